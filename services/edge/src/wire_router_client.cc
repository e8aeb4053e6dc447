#include "services/edge/src/wire_router_client.h"


#include "switchboard/common/log.h"
#include "switchboard/wire/connection.h"
#include "switchboard/wire/protocols.h"

namespace switchboard::edge {

namespace asio = boost::asio;
using router::v1::RouterRequest;
using router::v1::RouterResponse;

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

// One connection to the router, made from the moment it is asked for (requests written while
// it is being made wait in its queue). It ends once, when the connection closes or cannot be
// made.
class WireRouterClient::WireStream : public Stream,
                                     public std::enable_shared_from_this<WireStream> {
 public:
  WireStream(WireRouterClient* owner, uint64_t generation,
             asio::io_context::executor_type executor)
      : Stream(generation),
        owner_(owner),
        connection_(wire::Connection::Connect(executor, owner->address_, wire::kRouterExchange,
                                              static_cast<int>(owner->connect_timeout_.count()))) {}

  void Start() {
    std::weak_ptr<WireStream> weak = shared_from_this();
    connection_->Start(
        [weak](std::string_view frame) {
          auto self = weak.lock();
          if (self == nullptr) return;
          RouterResponse response;
          if (!response.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
            log::Warn("router sent a frame that is not a RouterResponse; ignored");
            return;
          }
          self->owner_->OnResponse(response, *self);
        },
        [self = shared_from_this()](absl::Status status) {
          if (!status.ok()) {
            log::Warn("router connection ended", {{"router", self->owner_->address_},
                                                  {"error", std::string(status.message())}});
          }
          self->ended_ = true;
          self->owner_->OnBroken(*self);
          self->owner_->OnStreamEnded(/*failed=*/!status.ok());
        });
  }

  // False once the connection is closing (it ends when its OnClosed runs).
  bool Write(const RouterRequest& request) override {
    if (connection_->Send(request)) return true;
    refused_ = true;
    return false;
  }

  bool broken() const { return ended_ || refused_; }

  void Close() { connection_->Close(); }

 private:
  WireRouterClient* owner_;
  const std::shared_ptr<wire::Connection> connection_;
  std::atomic<bool> refused_{false};
  std::atomic<bool> ended_{false};  // no response can arrive any more: its calls have ended
};

WireRouterClient::WireRouterClient(std::string address, size_t max_frames_per_call,
                                   std::chrono::milliseconds connect_timeout)
    : StreamRouterClient(max_frames_per_call),
      address_(std::move(address)),
      connect_timeout_(connect_timeout) {}

WireRouterClient::~WireRouterClient() { Shutdown(); }

void WireRouterClient::Bind(const std::vector<asio::io_context::executor_type>& executors) {
  for (const auto& executor : executors) slots_.push_back(std::make_unique<Slot>(executor));
}

bool WireRouterClient::Available() const { return NowMs() >= unavailable_until_ms_.load(); }

std::shared_ptr<StreamRouterClient::Stream> WireRouterClient::CurrentStream() {
  if (slots_.empty()) return nullptr;
  Slot* slot = nullptr;
  for (const auto& s : slots_) {
    if (s->executor.running_in_this_thread()) {
      slot = s.get();
      break;
    }
  }
  if (slot == nullptr) slot = slots_[next_slot_.fetch_add(1) % slots_.size()].get();
  std::shared_ptr<WireStream> fresh;
  {
    std::lock_guard<std::mutex> lock(slot->mu);
    // Checked under the slot's lock, which Shutdown takes after setting it: a stream made here
    // is either refused or found and closed by Shutdown.
    if (shutting_down_.load()) return nullptr;
    if (slot->stream != nullptr && !slot->stream->broken()) return slot->stream;
    {
      std::lock_guard<std::mutex> count(mu_);
      ++live_streams_;
    }
    fresh = std::make_shared<WireStream>(this, NextGeneration(), slot->executor);
    slot->stream = fresh;
  }
  log::Debug("router connection opening", {{"router", address_}, {"generation", fresh->generation()}});
  fresh->Start();
  return fresh;
}

void WireRouterClient::OnStreamEnded(bool failed) {
  if (failed) unavailable_until_ms_.store(NowMs() + 1000);
  std::lock_guard<std::mutex> lock(mu_);
  --live_streams_;
  ended_cv_.notify_all();
}

void WireRouterClient::Shutdown(std::chrono::milliseconds timeout) {
  shutting_down_.store(true);
  for (const auto& slot : slots_) {
    std::lock_guard<std::mutex> lock(slot->mu);
    if (slot->stream != nullptr) slot->stream->Close();
    slot->stream.reset();
  }
  std::unique_lock<std::mutex> lock(mu_);
  if (!ended_cv_.wait_for(lock, timeout, [this] { return live_streams_ == 0; })) {
    log::Warn("router connections did not close in time", {{"router", address_}});
  }
}

}  // namespace switchboard::edge
