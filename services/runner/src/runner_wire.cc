#include "services/runner/src/runner_wire.h"

#include "services/runner/src/attach_frames.h"
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
      : connection_(std::move(connection)), requests_(service, &telemetry_) {}

  void Start() {
    connection_->Start(
        [self = shared_from_this()](std::string_view frame) { self->OnFrame(frame); },
        // The router went away (or closed after our Closed): nothing more for it.
        [self = shared_from_this()](absl::Status) { self->requests_.Detach(); });
  }

  void OnOpened(std::string_view initialize_result, int64_t pid) override {
    telemetry_.SetPid(pid);
    connection_->Send(OpenedFrame(initialize_result, pid));
  }

  void OnMessage(std::string message) override {
    telemetry_.OnResponse(message);
    connection_->Send(MessageFrame(std::move(message)));
  }

  void OnRoutedMessage(std::string message, std::string_view user,
                       std::string_view session) override {
    connection_->Send(RoutedFrame(std::move(message), user, session));
  }

  // The router closes the connection once it reads this.
  void OnClosed(absl::Status status) override {
    AttachResponse r;
    r.mutable_closed()->set_code(static_cast<int32_t>(status.code()));
    r.mutable_closed()->set_message(std::string(status.message()));
    connection_->Send(r);
  }

 private:
  void OnFrame(std::string_view frame) {
    AttachRequest request;
    absl::Status handled =
        request.ParseFromArray(frame.data(), static_cast<int>(frame.size()))
            ? requests_.Handle(request, shared_from_this())
            : absl::InvalidArgumentError("a frame that is not an AttachRequest");
    if (!handled.ok()) {
      OnClosed(handled);
      requests_.Detach();
    }
  }

  std::shared_ptr<wire::Connection> connection_;
  AttachTelemetry telemetry_;
  AttachRequests requests_;  // on the I/O thread
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
