#pragma once

#include <absl/status/status.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "services/runner/src/runner_service.h"
#include "services/runner/src/runner_telemetry.h"
#include "switchboard/runner/v1/runner.pb.h"

namespace switchboard::runner {

// The frames of an attachment, whichever transport carries them (a gRPC Attach stream or a
// wire connection).

// The runner's frames to the caller.
v1::AttachResponse OpenedFrame(std::string_view initialize_result, int64_t pid);
v1::AttachResponse MessageFrame(std::string message);
v1::AttachResponse RoutedFrame(std::string message, std::string_view user,
                               std::string_view session);

// The caller's frames: the first (Open) attaches `sink` to its server, with Open's user and
// session as the default route; each later one is a message (or a Routed message) for it.
class AttachRequests {
 public:
  // `service` and `telemetry` must outlive this.
  AttachRequests(RunnerService* service, AttachTelemetry* telemetry)
      : service_(service), telemetry_(telemetry) {}

  // Handles one frame. InvalidArgument when it cannot come where it did (the attachment must
  // end with that status).
  absl::Status Handle(v1::AttachRequest& request, const std::shared_ptr<AttachmentSink>& sink);
  // Ends the attachment, if there is one. Idempotent.
  void Detach();

 private:
  RunnerService* service_;
  AttachTelemetry* telemetry_;
  std::unique_ptr<Attachment> attachment_;
  std::string user_;  // Open's user, for the log lines
};

}  // namespace switchboard::runner
