#include "services/edge/src/grpc_router_client.h"

#include "switchboard/common/log.h"
#include "switchboard/grpcutil/write_queue.h"

namespace switchboard::edge {

using router::v1::RouterRequest;
using router::v1::RouterResponse;

// One Exchange stream. Reads restart from OnReadDone; writes come from any thread through the
// WriteQueue, so the stream holds one hold for them, removed once the queue is closed and no
// write is in flight. OnDone therefore cannot run while a write is outstanding. The stream
// keeps itself alive until OnDone.
class GrpcRouterClient::ExchangeStream
    : public Stream,
      public grpc::ClientBidiReactor<RouterRequest, RouterResponse>,
      public std::enable_shared_from_this<ExchangeStream> {
 public:
  ExchangeStream(GrpcRouterClient* owner, uint64_t generation)
      : Stream(generation),
        owner_(owner),
        writes_([this](const RouterRequest* m) { StartWrite(m); }, [this] { RemoveHold(); }) {}

  // Binds the reactor to a new call. Triggers no reaction, so it may run under the owner's lock.
  void Bind(router::v1::Router::Stub* stub) {
    self_ = shared_from_this();
    stub->async()->Exchange(&context_, this);
    AddHold();
  }

  // Starts the call: the first read, then the RPC itself.
  void Begin() {
    StartRead(&response_);
    StartCall();
  }

  // A queue that overflowed (the router stopped reading) breaks the stream so the next call
  // opens a new one.
  bool Write(const RouterRequest& request) override {
    if (writes_.Push(request)) return true;
    if (!broken()) {
      Break();
      context_.TryCancel();
    }
    return false;
  }
  void Cancel() { context_.TryCancel(); }
  bool broken() const { return broken_.load(); }

  void OnWriteDone(bool ok) override {
    writes_.OnWriteDone(ok);
    if (!ok) Break();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      Break();
      return;
    }
    owner_->OnResponse(response_, *this);
    StartRead(&response_);
  }

  void OnDone(const grpc::Status& status) override {
    Break();
    if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
      log::Warn("router stream ended", {{"code", static_cast<int>(status.error_code())},
                                        {"error", status.error_message()},
                                        {"generation", generation()}});
    }
    GrpcRouterClient* owner = owner_;
    std::shared_ptr<ExchangeStream> keep = std::move(self_);
    keep.reset();
    owner->OnStreamDone();
  }

 private:
  // No response can arrive any more: the calls on this stream end now, and the write side
  // closes (its hold goes once a write in flight, if any, completes).
  void Break() {
    if (broken_.exchange(true)) return;
    writes_.Close();
    owner_->OnBroken(*this);
  }

  GrpcRouterClient* owner_;
  grpc::ClientContext context_;
  RouterResponse response_;
  grpcutil::WriteQueue<RouterRequest> writes_;
  std::atomic<bool> broken_{false};
  std::shared_ptr<ExchangeStream> self_;
};

GrpcRouterClient::GrpcRouterClient(std::shared_ptr<grpc::Channel> channel,
                                   size_t max_frames_per_call)
    : StreamRouterClient(max_frames_per_call),
      channel_(channel),
      stub_(router::v1::Router::NewStub(std::move(channel))) {}

bool GrpcRouterClient::Available() {
  grpc_connectivity_state state = channel_->GetState(/*try_to_connect=*/true);
  return state != GRPC_CHANNEL_TRANSIENT_FAILURE && state != GRPC_CHANNEL_SHUTDOWN;
}

GrpcRouterClient::~GrpcRouterClient() {
  std::unique_lock<std::mutex> lock(mu_);
  shutting_down_ = true;
  if (stream_) stream_->Cancel();
  stream_.reset();
  done_cv_.wait(lock, [this] { return live_streams_ == 0; });
}

std::shared_ptr<StreamRouterClient::Stream> GrpcRouterClient::CurrentStream() {
  std::shared_ptr<ExchangeStream> fresh;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_) return nullptr;
    if (stream_ && !stream_->broken()) return stream_;
    fresh = std::make_shared<ExchangeStream>(this, NextGeneration());
    fresh->Bind(stub_.get());
    ++live_streams_;
    stream_ = fresh;
  }
  log::Debug("router stream opening", {{"generation", fresh->generation()}});
  fresh->Begin();
  return fresh;
}

void GrpcRouterClient::OnStreamDone() {
  std::lock_guard<std::mutex> lock(mu_);
  --live_streams_;
  done_cv_.notify_all();
}

}  // namespace switchboard::edge
