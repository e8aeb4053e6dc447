#include "services/runner/src/runner_wire.h"

#include "services/runner/src/runner_telemetry.h"
#include "switchboard/common/log.h"
#include "switchboard/wire/protocols.h"

namespace switchboard::runner {

using v1::AttachRequest;
using v1::AttachResponse;

namespace {

// One connection: the service's sink, and the attachment it opened. Lives while the service
// holds it as a sink or the connection holds it in its handlers.
class WireAttachment final : public AttachmentSink,
                             public std::enable_shared_from_this<WireAttachment> {
 public:
  WireAttachment(RunnerService* service, std::shared_ptr<wire::Connection> connection)
      : service_(service), connection_(std::move(connection)) {}

  void Start() {
    connection_->Start(
        [self = shared_from_this()](std::string_view frame) { self->OnFrame(frame); },
        [self = shared_from_this()](absl::Status) {
          // The router went away (or closed after our Closed): nothing more for it.
          if (self->attachment_ != nullptr) self->attachment_->Detach();
        });
  }

  void OnOpened(std::string_view initialize_result, int64_t pid) override {
    telemetry_.SetPid(pid);
    AttachResponse r;
    r.mutable_opened()->set_initialize_result(std::string(initialize_result));
    r.mutable_opened()->set_pid(pid);
    connection_->Send(r);
  }

  void OnMessage(std::string message) override {
    telemetry_.OnResponse(message);
    AttachResponse r;
    r.set_message(std::move(message));
    connection_->Send(r);
  }

  void OnRoutedMessage(std::string message, std::string_view user,
                       std::string_view session) override {
    AttachResponse r;
    v1::Routed* routed = r.mutable_routed();
    routed->set_message(std::move(message));
    routed->set_user(std::string(user));
    routed->set_session(std::string(session));
    connection_->Send(r);
  }

  // The router closes the connection once it reads this.
  void OnClosed(absl::Status status) override {
    AttachResponse r;
    r.mutable_closed()->set_code(static_cast<int32_t>(status.code()));
    r.mutable_closed()->set_message(std::string(status.message()));
    connection_->Send(r);
  }

 private:
  void Refuse(const char* why) {
    OnClosed(absl::InvalidArgumentError(why));
    if (attachment_ != nullptr) attachment_->Detach();
  }

  void OnFrame(std::string_view frame) {
    AttachRequest request;
    if (!request.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
      Refuse("a frame that is not an AttachRequest");
      return;
    }
    if (attachment_ == nullptr) {
      if (!request.has_open()) {
        Refuse("the first frame of an Attach stream must be Open");
        return;
      }
      v1::Open* open = request.mutable_open();
      user_ = open->user();
      log::ScopedRequest request_log({}, user_);  // the runner knows users, not endpoints
      telemetry_.SetServer(open->server());
      RouteContext context{std::move(*open->mutable_user()), std::move(*open->mutable_session())};
      attachment_ = service_->Attach(open->server(), shared_from_this(), std::move(context));
    } else if (request.has_message()) {
      log::ScopedRequest request_log({}, user_);
      attachment_->Send(telemetry_.OnRequest(std::move(*request.mutable_message()), request));
    } else if (request.has_routed()) {
      v1::Routed* routed = request.mutable_routed();
      log::ScopedRequest request_log({}, routed->user());
      attachment_->Send(
          telemetry_.OnRequest(std::move(*routed->mutable_message()), request),
          RouteContext{std::move(*routed->mutable_user()), std::move(*routed->mutable_session())});
    } else {
      Refuse("after Open, every frame of an Attach stream must be a message");
    }
  }

  RunnerService* service_;
  std::shared_ptr<wire::Connection> connection_;
  std::unique_ptr<Attachment> attachment_;  // on the I/O thread
  std::string user_;                        // Open's user, for the log lines
  AttachTelemetry telemetry_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<wire::Listener>> ServeAttach(RunnerService* service,
                                                            const std::string& listen) {
  return wire::Listener::Start({service->executor()}, listen, wire::kRunnerAttach,
                               [service](std::shared_ptr<wire::Connection> connection) {
                                 std::make_shared<WireAttachment>(service, std::move(connection))
                                     ->Start();
                               });
}

}  // namespace switchboard::runner
