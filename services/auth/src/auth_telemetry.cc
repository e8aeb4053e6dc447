#include "services/auth/src/auth_telemetry.h"

#include "switchboard/telemetry/grpc_metadata.h"
#include "switchboard/telemetry/metrics.h"

namespace switchboard::auth {
namespace {

struct AuthMetrics {
  prometheus::Family<prometheus::Counter>& decisions =
      prometheus::BuildCounter()
          .Name("sb_auth_decisions_total")
          .Help(
              "Authorize decisions by endpoint and decision (allow, unauthenticated, "
              "forbidden, not_found, rate_limited, unavailable)")
          .Register(telemetry::MetricsRegistry());
  prometheus::Family<prometheus::Counter>& failures =
      prometheus::BuildCounter()
          .Name("sb_auth_failures_total")
          .Help("Refused Authorize calls by decision and reason")
          .Register(telemetry::MetricsRegistry());
};

AuthMetrics& Metrics() {
  static AuthMetrics* metrics = new AuthMetrics();
  return *metrics;
}

const char* DecisionName(v1::AuthorizeResponse::Decision decision) {
  switch (decision) {
    case v1::AuthorizeResponse::ALLOW:
      return "allow";
    case v1::AuthorizeResponse::UNAUTHENTICATED:
      return "unauthenticated";
    case v1::AuthorizeResponse::FORBIDDEN:
      return "forbidden";
    case v1::AuthorizeResponse::NOT_FOUND:
      return "not_found";
    case v1::AuthorizeResponse::RATE_LIMITED:
      return "rate_limited";
    default:
      return "unavailable";
  }
}

}  // namespace

AuthorizeTelemetry::AuthorizeTelemetry(const grpc::ServerContextBase& context,
                                       const v1::AuthorizeRequest& request)
    : endpoint_(request.endpoint()) {
  std::optional<telemetry::SpanContext> parent =
      telemetry::Extract(telemetry::FromMetadata(context));
  span_ = telemetry::Tracer::Global().StartSpan("auth.Authorize", telemetry::SpanKind::kServer,
                                                parent.value_or(telemetry::SpanContext{}));
  if (!span_.recording()) return;
  span_.SetAttribute("rpc.system", "grpc");
  span_.SetAttribute("rpc.service", "switchboard.auth.v1.Auth");
  span_.SetAttribute("rpc.method", "Authorize");
  span_.SetAttribute("switchboard.endpoint", request.endpoint());
  if (!request.tool().empty()) span_.SetAttribute("gen_ai.tool.name", request.tool());
  span_.SetAttribute("switchboard.auth.credential_source", request.credential_source());
}

void AuthorizeTelemetry::Finish(const v1::AuthorizeResponse& response, const grpc::Status& status) {
  const char* decision = status.ok() ? DecisionName(response.decision()) : "unavailable";
  // Reasons are a fixed set of sentences written by auth (never client input).
  const std::string& reason = status.ok() ? response.reason() : status.error_message();
  // An endpoint not known to exist (unknown, or no configuration yet to say) is named by the
  // client: not a label value.
  bool known = status.ok() && response.decision() != v1::AuthorizeResponse::NOT_FOUND;
  std::string endpoint = known ? endpoint_ : std::string();
  Metrics().decisions.Add({{"endpoint", endpoint}, {"decision", decision}}).Increment();
  if (!status.ok() || response.decision() != v1::AuthorizeResponse::ALLOW) {
    Metrics().failures.Add({{"decision", decision}, {"reason", reason}}).Increment();
  }
  if (span_.recording()) {
    span_.SetAttribute("switchboard.auth.decision", decision);
    if (!reason.empty()) span_.SetAttribute("switchboard.auth.reason", reason);
    if (status.ok() && !response.user_email().empty()) {
      span_.SetAttribute("enduser.id", response.user_email());
    }
  }
  span_.End();
}

}  // namespace switchboard::auth
