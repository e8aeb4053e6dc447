#include "services/edge/src/wire_router_client.h"

#include <deque>

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

constexpr size_t kMaxHeld = 65536;  // requests waiting for a connection being made

}  // namespace

// One connection to the router. It exists from the moment it is asked for; requests written
// before the connection is made are held and sent once it is. It ends (once) when the
// connection closes or cannot be made.
class WireRouterClient::WireStream : public Stream,
                                     public std::enable_shared_from_this<WireStream> {
 public:
  WireStream(WireRouterClient* owner, uint64_t generation) : Stream(generation), owner_(owner) {}

  void Open(asio::io_context::executor_type executor) {
    wire::Dial(executor, owner_->address_, wire::kRouterExchange,
               static_cast<int>(owner_->connect_timeout_.count()),
               [self = shared_from_this()](absl::StatusOr<std::shared_ptr<wire::Connection>> c) {
                 self->OnDialled(std::move(c));
               });
  }

  bool Write(const RouterRequest& request) override {
    std::lock_guard<std::mutex> lock(mu_);
    if (ended_ || refused_) return false;
    if (connection_ == nullptr) {
      if (held_.size() >= kMaxHeld) {
        refused_ = true;
        return false;
      }
      held_.push_back(request);
      return true;
    }
    if (connection_->Send(request)) return true;
    refused_ = true;  // closing: it ends once the connection's OnClosed runs
    return false;
  }

  bool broken() const {
    std::lock_guard<std::mutex> lock(mu_);
    return ended_ || refused_;
  }

  // Closes the connection, or the one being made as soon as it is.
  void Close() {
    std::lock_guard<std::mutex> lock(mu_);
    closing_ = true;
    if (connection_ != nullptr) connection_->Close();
  }

 private:
  void OnDialled(absl::StatusOr<std::shared_ptr<wire::Connection>> dialled) {
    if (!dialled.ok()) {
      log::Warn("router connection failed", {{"router", owner_->address_},
                                             {"error", std::string(dialled.status().message())}});
      End(/*failed=*/true);
      return;
    }
    std::shared_ptr<wire::Connection> connection = std::move(*dialled);
    std::weak_ptr<WireStream> weak = shared_from_this();
    connection->Start(
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
          self->End(/*failed=*/!status.ok());
        });
    std::lock_guard<std::mutex> lock(mu_);
    connection_ = connection;
    for (const RouterRequest& request : held_) connection->Send(request);
    held_.clear();
    if (closing_) connection->Close();
  }

  // No response can arrive any more: the calls on this stream end now.
  void End(bool failed) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (ended_) return;
      ended_ = true;
      connection_.reset();
      held_.clear();
    }
    owner_->OnBroken(*this);
    owner_->OnStreamEnded(failed);
  }

  WireRouterClient* owner_;
  mutable std::mutex mu_;
  std::shared_ptr<wire::Connection> connection_;  // guarded by mu_
  std::deque<RouterRequest> held_;                 // guarded by mu_
  bool refused_ = false;                           // guarded by mu_
  bool closing_ = false;                           // guarded by mu_
  bool ended_ = false;                             // guarded by mu_
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
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_) return nullptr;
    if (slot->stream != nullptr && !slot->stream->broken()) return slot->stream;
    fresh = std::make_shared<WireStream>(this, NextGeneration());
    slot->stream = fresh;
    ++live_streams_;
  }
  log::Debug("router connection opening", {{"router", address_}, {"generation", fresh->generation()}});
  fresh->Open(slot->executor);
  return fresh;
}

void WireRouterClient::OnStreamEnded(bool failed) {
  if (failed) unavailable_until_ms_.store(NowMs() + 1000);
  std::lock_guard<std::mutex> lock(mu_);
  --live_streams_;
  ended_cv_.notify_all();
}

void WireRouterClient::Shutdown(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  shutting_down_ = true;
  for (const auto& slot : slots_) {
    if (slot->stream != nullptr) slot->stream->Close();
    slot->stream.reset();
  }
  if (!ended_cv_.wait_for(lock, timeout, [this] { return live_streams_ == 0; })) {
    log::Warn("router connections did not close in time", {{"router", address_}});
  }
}

}  // namespace switchboard::edge
