#include "services/edge/src/call_registry.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>
#include <vector>

namespace switchboard::edge {

boost::asio::awaitable<absl::StatusOr<RouterFrame>> NextFrame(FrameQueue& frames, bool& finished) {
  auto [ec, frame] =
      co_await frames.AsyncPop(boost::asio::as_tuple(boost::asio::use_awaitable));
  if (ec == boost::asio::error::operation_aborted) throw boost::system::system_error(ec);
  if (ec) {
    finished = true;
    co_return absl::UnavailableError("router unavailable");
  }
  if (!frame.ok() || frame->final) finished = true;
  co_return std::move(frame);
}

void CallRegistry::Add(uint64_t call_id, uint64_t generation, std::shared_ptr<FrameQueue> frames) {
  std::lock_guard<std::mutex> lock(mu_);
  calls_[call_id] = Entry{generation, std::move(frames)};
}

CallRegistry::DeliverResult CallRegistry::Deliver(uint64_t call_id, RouterFrame frame) {
  std::shared_ptr<FrameQueue> frames;
  bool final = frame.final;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = calls_.find(call_id);
    if (it == calls_.end()) return DeliverResult::kUnknown;
    frames = it->second.frames;
    if (final) calls_.erase(it);
  }
  if (final) {
    frames->Finish(std::move(frame));
    return DeliverResult::kDelivered;
  }
  if (frames->Push(std::move(frame))) return DeliverResult::kDelivered;
  bool removed = Remove(call_id);
  if (removed) {
    frames->Finish(absl::ResourceExhaustedError("too many messages queued for this request"));
  }
  return removed ? DeliverResult::kOverflow : DeliverResult::kUnknown;
}

bool CallRegistry::Remove(uint64_t call_id) {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_.erase(call_id) > 0;
}

size_t CallRegistry::FailGeneration(uint64_t generation, const absl::Status& status) {
  std::vector<std::shared_ptr<FrameQueue>> failed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto it = calls_.begin(); it != calls_.end();) {
      if (it->second.generation == generation) {
        failed.push_back(std::move(it->second.frames));
        it = calls_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (const auto& frames : failed) frames->Finish(status);
  return failed.size();
}

size_t CallRegistry::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return calls_.size();
}

}  // namespace switchboard::edge
