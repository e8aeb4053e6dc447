#include "services/router/src/router_telemetry.h"

#include "switchboard/common/strings.h"
#include "switchboard/telemetry/mcp_meta.h"
#include "switchboard/telemetry/metrics.h"

namespace switchboard::router {
namespace {

struct RouterMetrics {
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("sb_router_upstream_requests_total")
          .Help(
              "Requests the router sent to upstream servers, by server, MCP method and "
              "outcome (ok, error, timeout, unavailable, cancelled)")
          .Register(telemetry::MetricsRegistry());
  prometheus::Family<prometheus::Histogram>& latency =
      prometheus::BuildHistogram()
          .Name("sb_router_upstream_duration_seconds")
          .Help("Time an upstream server took to answer, by server and MCP method")
          .Register(telemetry::MetricsRegistry());
  prometheus::Family<prometheus::Gauge>& in_flight =
      prometheus::BuildGauge()
          .Name("sb_router_upstream_in_flight")
          .Help("Requests waiting for an upstream server's answer, by server")
          .Register(telemetry::MetricsRegistry());
  prometheus::Family<prometheus::Counter>& partial =
      prometheus::BuildCounter()
          .Name("sb_router_list_partial_total")
          .Help("Server lists missing from merged list results, by server, method and outcome")
          .Register(telemetry::MetricsRegistry());
};

RouterMetrics& Metrics() {
  static RouterMetrics* metrics = new RouterMetrics();
  return *metrics;
}

}  // namespace

CallSpan StartCallSpan(const v1::RouterRequest& request, const jsonrpc::Envelope& env) {
  std::optional<telemetry::SpanContext> parent =
      telemetry::Extract({request.traceparent(), request.tracestate(), request.baggage()});
  telemetry::Tracer& tracer = telemetry::Tracer::Global();
  if (!parent && !tracer.enabled()) return nullptr;
  auto trace = std::make_shared<CallTrace>();
  trace->span = tracer.StartSpan(StrCat("router ", env.method), telemetry::SpanKind::kServer,
                                 parent.value_or(telemetry::SpanContext{}));
  if (parent) trace->baggage = request.baggage();
  telemetry::Span* span = &trace->span;
  if (span->recording()) {
    span->SetAttribute("mcp.method.name", env.method);
    span->SetAttribute("switchboard.endpoint", request.endpoint());
    if (!request.session_id().empty()) {
      span->SetAttribute("mcp.session.id", telemetry::HashSessionId(request.session_id()));
    }
    if (env.method == "tools/call" && !env.params.empty() &&
        request.message()[env.params.pos] == '{') {
      if (auto name = jsonrpc::FindMember(request.message(), env.params, "name")) {
        if (auto tool = jsonrpc::DecodeString(name->In(request.message()))) {
          span->SetAttribute("gen_ai.tool.name", *tool);
        }
      }
    }
  }
  return trace;
}

UpstreamCall::UpstreamCall(const CallSpan& parent, std::string server, std::string_view method)
    : parent_(parent),
      server_(std::move(server)),
      method_(telemetry::McpMethodLabel(method)),
      started_(std::chrono::steady_clock::now()) {
  if (parent_ != nullptr) {
    span_ = telemetry::Tracer::Global().StartSpan(StrCat("upstream ", server_, " ", method),
                                                  telemetry::SpanKind::kClient,
                                                  parent_->span.context());
    if (span_.recording()) {
      span_.SetAttribute("mcp.method.name", method);
      span_.SetAttribute("switchboard.server", server_);
    }
  }
  Metrics().in_flight.Add({{"server", server_}}).Increment();
}

UpstreamCall::~UpstreamCall() {
  RouterMetrics& metrics = Metrics();
  metrics.in_flight.Add({{"server", server_}}).Decrement();
  metrics.requests.Add({{"server", server_}, {"method", method_}, {"outcome", outcome_}})
      .Increment();
  if (outcome_ == "ok" || outcome_ == "error") {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    metrics.latency.Add({{"server", server_}, {"method", method_}}, telemetry::LatencyBuckets())
        .Observe(seconds);
  }
  if (span_.recording()) span_.SetAttribute("switchboard.outcome", outcome_);
  span_.End();
}

void UpstreamCall::Finish(std::string_view message, const jsonrpc::Envelope& env) {
  int code = telemetry::ErrorCodeOf(message, env);
  outcome_ = code == 0 && env.error.empty() ? "ok" : "error";
  if (code != 0 && span_.recording()) {
    span_.SetAttribute("rpc.jsonrpc.error_code", static_cast<int64_t>(code));
    span_.SetStatus(telemetry::StatusCode::kError, "JSON-RPC error");
  }
}

void UpstreamCall::Fail(std::string_view outcome) {
  outcome_ = std::string(outcome);
  span_.SetStatus(telemetry::StatusCode::kError, outcome);
}

void CountPartialList(std::string_view server, std::string_view method, std::string_view outcome) {
  Metrics()
      .partial
      .Add({{"server", std::string(server)},
            {"method", std::string(method)},
            {"outcome", std::string(outcome)}})
      .Increment();
}

const std::string& UpstreamCall::baggage() const {
  static const std::string kNone;
  return parent_ != nullptr ? parent_->baggage : kNone;
}

namespace {
thread_local const std::string* g_baggage = nullptr;
}  // namespace

ScopedUpstream::ScopedUpstream(const UpstreamCall* call) : previous_baggage_(g_baggage) {
  if (call == nullptr || !call->span().context().valid()) return;
  active_.emplace(call->span());
  g_baggage = &call->baggage();
}

ScopedUpstream::~ScopedUpstream() { g_baggage = previous_baggage_; }

telemetry::TraceHeaders CurrentTraceHeaders() {
  const telemetry::SpanContext* current = telemetry::CurrentContext();
  if (current == nullptr) return {};
  telemetry::TraceHeaders headers;
  headers.traceparent = telemetry::FormatTraceparent(*current);
  headers.tracestate = current->trace_state;
  if (g_baggage != nullptr) headers.baggage = *g_baggage;
  return headers;
}

}  // namespace switchboard::router
