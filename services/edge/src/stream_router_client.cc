#include "services/edge/src/stream_router_client.h"

#include "switchboard/common/log.h"

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

RouterRequest CancelOf(uint64_t call_id) {
  RouterRequest cancel;
  cancel.set_call_id(call_id);
  cancel.set_cancel(true);
  return cancel;
}

}  // namespace

// A request in flight. Its frames arrive in `frames_`; dropping it early sends a cancel on
// the stream that carries it.
class StreamRouterClient::CallImpl final : public RouterCall {
 public:
  CallImpl(StreamRouterClient* owner, uint64_t call_id, std::shared_ptr<Stream> stream,
           std::shared_ptr<FrameQueue> frames)
      : owner_(owner),
        call_id_(call_id),
        stream_(std::move(stream)),
        frames_(std::move(frames)),
        finished_(stream_ == nullptr) {}

  ~CallImpl() override { CancelAtRouter(); }

  asio::awaitable<absl::StatusOr<RouterFrame>> Next() override {
    return NextFrame(*frames_, finished_);
  }

  void Cancel() override { CancelAtRouter(); }

 private:
  void CancelAtRouter() {
    if (finished_) return;
    finished_ = true;
    // Only a call still registered is live at the router; a broken stream has nothing to cancel.
    if (!owner_->registry_.Remove(call_id_)) return;
    frames_->Close();
    stream_->Write(CancelOf(call_id_));
  }

  StreamRouterClient* owner_;
  const uint64_t call_id_;
  std::shared_ptr<Stream> stream_;
  std::shared_ptr<FrameQueue> frames_;
  bool finished_;
};

StreamRouterClient::StreamRouterClient(size_t max_frames_per_call)
    : max_frames_per_call_(max_frames_per_call) {}

std::shared_ptr<StreamRouterClient::Stream> StreamRouterClient::WriteWithRetry(
    const RouterRequest& request, const std::shared_ptr<FrameQueue>& frames) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    std::shared_ptr<Stream> stream = CurrentStream();
    if (stream == nullptr) return nullptr;
    // Register before writing: if the stream breaks after the write, OnBroken finds the call;
    // if it broke before, the write is refused and the call is taken back here.
    if (frames) registry_.Add(request.call_id(), stream->generation(), frames);
    if (stream->Write(request)) return stream;
    if (frames && !registry_.Remove(request.call_id())) return nullptr;
  }
  return nullptr;
}

std::unique_ptr<RouterCall> StreamRouterClient::Call(RouterMessage message) {
  uint64_t call_id = next_call_id_.fetch_add(1);
  auto frames = std::make_shared<FrameQueue>(max_frames_per_call_);
  std::shared_ptr<Stream> stream = WriteWithRetry(ToProto(std::move(message), call_id), frames);
  if (stream == nullptr && !frames->closed()) frames->Finish(RouterUnavailable());
  return std::make_unique<CallImpl>(this, call_id, std::move(stream), std::move(frames));
}

void StreamRouterClient::Send(RouterMessage message) {
  uint64_t call_id = next_call_id_.fetch_add(1);
  if (WriteWithRetry(ToProto(std::move(message), call_id), nullptr) == nullptr) {
    log::Warn("router unavailable; dropped a client notification", {{"call_id", call_id}});
  }
}

void StreamRouterClient::SetSessionMessageHandler(SessionMessageHandler handler) {
  session_handler_ = std::move(handler);
}

void StreamRouterClient::OnResponse(RouterResponse& response, Stream& stream) {
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
    case CallRegistry::DeliverResult::kOverflow:
      log::Warn("client too slow for its router frames; cancelling", {{"call_id", call_id}});
      stream.Write(CancelOf(call_id));
      break;
  }
}

void StreamRouterClient::OnBroken(const Stream& stream) {
  size_t failed = registry_.FailGeneration(stream.generation(), RouterUnavailable());
  if (failed > 0) {
    log::Warn("router stream broke; failing its calls",
              {{"calls", static_cast<int64_t>(failed)}, {"generation", stream.generation()}});
  }
}

}  // namespace switchboard::edge
