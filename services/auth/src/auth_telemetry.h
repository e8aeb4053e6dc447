#pragma once

#include <grpcpp/server_context.h>
#include <grpcpp/support/status.h>

#include <string>

#include "switchboard/auth/v1/auth.pb.h"
#include "switchboard/telemetry/tracer.h"

namespace switchboard::auth {

// What auth records of one Authorize call: a span under the edge's (from the call's metadata)
// and the decision counters (sb_auth_decisions_total by decision, failures by reason). Lives
// until the call is answered, which may be on another thread than the one it began on (after
// a fetch of signing keys, or once Redis has counted the request).
class AuthorizeTelemetry {
 public:
  AuthorizeTelemetry(const grpc::ServerContextBase& context, const v1::AuthorizeRequest& request);

  // The call's span, to make current (telemetry::ScopedActive) while its work runs on a thread.
  const telemetry::Span& span() const { return span_; }

  // Records how the call ended, `response` or, when `status` is not OK, "unavailable" with the
  // status message as reason, and ends the span.
  void Finish(const v1::AuthorizeResponse& response, const grpc::Status& status);

 private:
  telemetry::Span span_;
  std::string endpoint_;
};

}  // namespace switchboard::auth
