#include "services/runner/src/attach_frames.h"

#include "switchboard/common/log.h"

namespace switchboard::runner {

v1::AttachResponse OpenedFrame(std::string_view initialize_result, int64_t pid) {
  v1::AttachResponse r;
  r.mutable_opened()->set_initialize_result(std::string(initialize_result));
  r.mutable_opened()->set_pid(pid);
  return r;
}

v1::AttachResponse MessageFrame(std::string message) {
  v1::AttachResponse r;
  r.set_message(std::move(message));
  return r;
}

v1::AttachResponse RoutedFrame(std::string message, std::string_view user,
                               std::string_view session) {
  v1::AttachResponse r;
  v1::Routed* routed = r.mutable_routed();
  routed->set_message(std::move(message));
  routed->set_user(std::string(user));
  routed->set_session(std::string(session));
  return r;
}

absl::Status AttachRequests::Handle(v1::AttachRequest& request,
                                    const std::shared_ptr<AttachmentSink>& sink) {
  if (attachment_ == nullptr) {
    if (!request.has_open()) {
      return absl::InvalidArgumentError("the first frame of an Attach stream must be Open");
    }
    v1::Open* open = request.mutable_open();
    user_ = open->user();
    log::ScopedRequest request_log({}, user_);  // the runner knows users, not endpoints
    telemetry_->SetServer(open->server());
    RouteContext context{std::move(*open->mutable_user()), std::move(*open->mutable_session())};
    attachment_ = service_->Attach(open->server(), sink, std::move(context));
  } else if (request.has_message()) {
    log::ScopedRequest request_log({}, user_);
    attachment_->Send(telemetry_->OnRequest(std::move(*request.mutable_message()), request));
  } else if (request.has_routed()) {
    v1::Routed* routed = request.mutable_routed();
    log::ScopedRequest request_log({}, routed->user());
    attachment_->Send(
        telemetry_->OnRequest(std::move(*routed->mutable_message()), request),
        RouteContext{std::move(*routed->mutable_user()), std::move(*routed->mutable_session())});
  } else {
    return absl::InvalidArgumentError(
        "after Open, every frame of an Attach stream must be a message");
  }
  return absl::OkStatus();
}

void AttachRequests::Detach() {
  if (attachment_ != nullptr) attachment_->Detach();
}

}  // namespace switchboard::runner
