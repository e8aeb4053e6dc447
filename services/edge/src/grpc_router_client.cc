#include "services/edge/src/grpc_router_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/system/system_error.hpp>

#include "switchboard/common/log.h"
#include "switchboard/grpcutil/write_queue.h"

namespace switchboard::edge {

namespace asio = boost::asio;
using router::v1::RouterRequest;
using router::v1::RouterResponse;

namespace {

absl::Status RouterUnavailable() { return absl::UnavailableError("router unavailable"); }

RouterRequest ToProto(RouterMessage message, uint64_t call_id) {
  RouterRequest request;
  request.set_call_id(call_id);
  request.set_endpoint(std::move(message.endpoint));
  request.set_session_id(std::move(message.session_id));
  request.set_protocol_version(std::move(message.protocol_version));
  request.set_message(std::move(message.message));
  request.mutable_principal()->set_user_email(std::move(message.user_email));
  request.mutable_principal()->set_api_key_id(std::move(message.api_key_id));
  if (!message.trace.empty()) {
    request.set_traceparent(std::move(message.trace.traceparent));
    request.set_tracestate(std::move(message.trace.tracestate));
    request.set_baggage(std::move(message.trace.baggage));
  }
  return request;
}

}  // namespace

// One Exchange stream. Reads restart from OnReadDone; writes come from any thread through the
// WriteQueue, so the stream holds one hold for them, removed once the queue is closed and no
// write is in flight. OnDone therefore cannot run while a write is outstanding. The stream
// keeps itself alive until OnDone.
class GrpcRouterClient::Stream : public grpc::ClientBidiReactor<RouterRequest, RouterResponse>,
                                 public std::enable_shared_from_this<Stream> {
 public:
  Stream(GrpcRouterClient* owner, uint64_t generation)
      : owner_(owner),
        generation_(generation),
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

  // Queues a message; false when the stream can no longer write. A queue that overflowed
  // (the router stopped reading) breaks the stream so the next call opens a new one.
  bool Write(RouterRequest request) {
    if (writes_.Push(std::move(request))) return true;
    if (!broken()) {
      Break();
      context_.TryCancel();
    }
    return false;
  }
  void Cancel() { context_.TryCancel(); }
  bool broken() const { return broken_.load(); }
  uint64_t generation() const { return generation_; }

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
                                        {"generation", generation_}});
    }
    GrpcRouterClient* owner = owner_;
    std::shared_ptr<Stream> keep = std::move(self_);
    keep.reset();
    owner->OnStreamDone();
  }

 private:
  // No response can arrive any more: the calls on this stream end now, and the write side
  // closes (its hold goes once a write in flight, if any, completes).
  void Break() {
    if (broken_.exchange(true)) return;
    writes_.Close();
    size_t failed = owner_->registry_.FailGeneration(generation_, RouterUnavailable());
    if (failed > 0) {
      log::Warn("router stream broke; failing its calls",
                {{"calls", static_cast<int64_t>(failed)}, {"generation", generation_}});
    }
  }

  GrpcRouterClient* owner_;
  const uint64_t generation_;
  grpc::ClientContext context_;
  RouterResponse response_;
  grpcutil::WriteQueue<RouterRequest> writes_;
  std::atomic<bool> broken_{false};
  std::shared_ptr<Stream> self_;
};

// A request in flight. Its frames arrive in `frames_`; dropping it early sends a cancel on
// the stream that carries it.
class GrpcRouterClient::CallImpl final : public RouterCall {
 public:
  CallImpl(GrpcRouterClient* owner, uint64_t call_id, std::shared_ptr<Stream> stream,
           std::shared_ptr<FrameQueue> frames)
      : owner_(owner),
        call_id_(call_id),
        stream_(std::move(stream)),
        frames_(std::move(frames)),
        finished_(stream_ == nullptr) {}

  ~CallImpl() override { CancelAtRouter(); }

  asio::awaitable<absl::StatusOr<RouterFrame>> Next() override {
    auto [ec, frame] = co_await frames_->AsyncPop(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) throw boost::system::system_error(ec);
    if (ec) {
      finished_ = true;
      co_return RouterUnavailable();
    }
    if (!frame.ok() || frame->final) finished_ = true;
    co_return std::move(frame);
  }

  void Cancel() override { CancelAtRouter(); }

 private:
  void CancelAtRouter() {
    if (finished_) return;
    finished_ = true;
    // Only a call still registered is live at the router; a broken stream has nothing to cancel.
    if (!owner_->registry_.Remove(call_id_)) return;
    frames_->Close();
    RouterRequest cancel;
    cancel.set_call_id(call_id_);
    cancel.set_cancel(true);
    stream_->Write(std::move(cancel));
  }

  GrpcRouterClient* owner_;
  const uint64_t call_id_;
  std::shared_ptr<Stream> stream_;
  std::shared_ptr<FrameQueue> frames_;
  bool finished_;
};

GrpcRouterClient::GrpcRouterClient(std::shared_ptr<grpc::Channel> channel,
                                   size_t max_frames_per_call)
    : channel_(channel),
      stub_(router::v1::Router::NewStub(std::move(channel))),
      max_frames_per_call_(max_frames_per_call) {}

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

std::shared_ptr<GrpcRouterClient::Stream> GrpcRouterClient::CurrentStream() {
  std::shared_ptr<Stream> fresh;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (shutting_down_) return nullptr;
    if (stream_ && !stream_->broken()) return stream_;
    fresh = std::make_shared<Stream>(this, ++generation_);
    fresh->Bind(stub_.get());
    ++live_streams_;
    stream_ = fresh;
  }
  log::Debug("router stream opening", {{"generation", fresh->generation()}});
  fresh->Begin();
  return fresh;
}

std::shared_ptr<GrpcRouterClient::Stream> GrpcRouterClient::WriteWithRetry(
    const RouterRequest& request, const std::shared_ptr<FrameQueue>& frames) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::shared_ptr<Stream> stream = CurrentStream();
    if (stream == nullptr) return nullptr;
    // Register before writing: if the stream breaks after the write, FailGeneration finds the
    // call; if it broke before, the write is refused and the call is taken back here.
    if (frames) registry_.Add(request.call_id(), stream->generation(), frames);
    if (stream->Write(request)) return stream;
    if (frames && !registry_.Remove(request.call_id())) return nullptr;
  }
  return nullptr;
}

std::unique_ptr<RouterCall> GrpcRouterClient::Call(RouterMessage message) {
  uint64_t call_id = next_call_id_.fetch_add(1);
  auto frames = std::make_shared<FrameQueue>(max_frames_per_call_);
  std::shared_ptr<Stream> stream = WriteWithRetry(ToProto(std::move(message), call_id), frames);
  if (stream == nullptr && !frames->closed()) frames->Finish(RouterUnavailable());
  return std::make_unique<CallImpl>(this, call_id, std::move(stream), std::move(frames));
}

void GrpcRouterClient::Send(RouterMessage message) {
  uint64_t call_id = next_call_id_.fetch_add(1);
  if (WriteWithRetry(ToProto(std::move(message), call_id), nullptr) == nullptr) {
    log::Warn("router unavailable; dropped a client notification", {{"call_id", call_id}});
  }
}

void GrpcRouterClient::SetSessionMessageHandler(SessionMessageHandler handler) {
  session_handler_ = std::move(handler);
}

void GrpcRouterClient::OnResponse(RouterResponse& response, Stream& stream) {
  uint64_t call_id = response.call_id();
  if (call_id == 0) {
    if (response.session_id().empty() || !session_handler_) {
      log::Debug("router message for no session dropped");
      return;
    }
    session_handler_(std::move(*response.mutable_session_id()),
                     std::move(*response.mutable_message()));
    return;
  }
  RouterFrame frame{std::move(*response.mutable_message()), response.final()};
  switch (registry_.Deliver(call_id, std::move(frame))) {
    case CallRegistry::DeliverResult::kDelivered:
      break;
    case CallRegistry::DeliverResult::kUnknown:
      log::Debug("router frame for a call no longer waiting", {{"call_id", call_id}});
      break;
    case CallRegistry::DeliverResult::kOverflow: {
      log::Warn("client too slow for its router frames; cancelling", {{"call_id", call_id}});
      RouterRequest cancel;
      cancel.set_call_id(call_id);
      cancel.set_cancel(true);
      stream.Write(std::move(cancel));
      break;
    }
  }
}

void GrpcRouterClient::OnStreamDone() {
  std::lock_guard<std::mutex> lock(mu_);
  --live_streams_;
  done_cv_.notify_all();
}

}  // namespace switchboard::edge
