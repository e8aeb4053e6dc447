#pragma once

#include <grpcpp/server_context.h>

#include <optional>
#include <string>

#include "switchboard/auth/v1/auth.pb.h"
#include "switchboard/telemetry/tracer.h"

namespace switchboard::auth {

// What auth records of one Authorize call: a span under the edge's (from the call's metadata)
// and the decision counters (sb_auth_decisions_total by decision, failures by reason). Lives on
// the stack of the (synchronous) call: its span is current on the thread meanwhile.
class AuthorizeTelemetry {
 public:
  AuthorizeTelemetry(const grpc::ServerContextBase& context, const v1::AuthorizeRequest& request);
  // Records the decision and ends the span.
  void Finish(const v1::AuthorizeResponse& response);

 private:
  telemetry::Span span_;
  std::optional<telemetry::ScopedActive> active_;  // log lines of the call carry its span
  std::string endpoint_;
};

}  // namespace switchboard::auth
