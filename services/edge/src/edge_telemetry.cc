#include "services/edge/src/edge_telemetry.h"

#include <array>

#include "switchboard/common/strings.h"
#include "switchboard/jsonrpc/message.h"
#include "switchboard/telemetry/mcp_meta.h"
#include "switchboard/telemetry/metrics.h"

// GCC 12 reports a false -Wmismatched-new-delete on some Asio coroutine frames (see
// edge_service.cc).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace switchboard::edge {
namespace {

namespace asio = boost::asio;

struct EdgeMetrics {
  prometheus::Family<prometheus::Counter>& requests =
      prometheus::BuildCounter()
          .Name("sb_edge_requests_total")
          .Help("HTTP requests answered by the edge, by endpoint, route, MCP method and status")
          .Register(telemetry::MetricsRegistry());
  prometheus::Family<prometheus::Histogram>& latency =
      prometheus::BuildHistogram()
          .Name("sb_edge_request_duration_seconds")
          .Help(
              "Time from a request's arrival to its response head (the end of a JSON answer, "
              "the start of an SSE one), by endpoint, route, MCP method and status")
          .Register(telemetry::MetricsRegistry());
  prometheus::Family<prometheus::Counter>& rate_limited =
      prometheus::BuildCounter()
          .Name("sb_edge_rate_limited_total")
          .Help("Requests refused by the rate limits, by endpoint (429, or on the event stream "
                "for the 2024-11-05 transport)")
          .Register(telemetry::MetricsRegistry());
  prometheus::Family<prometheus::Counter>& auth_reused =
      prometheus::BuildCounter()
          .Name("sb_edge_auth_reused_total")
          .Help("Requests let through on an ALLOW that auth had given before and allowed the edge "
                "to reuse, without asking auth again, by endpoint")
          .Register(telemetry::MetricsRegistry());
  prometheus::Family<prometheus::Gauge>& sessions_open =
      prometheus::BuildGauge()
          .Name("sb_edge_sessions_open")
          .Help("Sessions opened through this edge and not yet ended through it")
          .Register(telemetry::MetricsRegistry());
  prometheus::Family<prometheus::Gauge>& streams_open =
      prometheus::BuildGauge()
          .Name("sb_edge_sse_streams_open")
          .Help("Server-sent event streams this edge is writing, by route")
          .Register(telemetry::MetricsRegistry());
};

EdgeMetrics& Metrics() {
  static EdgeMetrics* metrics = new EdgeMetrics();
  return *metrics;
}

std::string_view RouteLabel(RouteKind kind, std::string_view path) {
  switch (kind) {
    case RouteKind::kMcp:
      return "mcp";
    case RouteKind::kLegacySse:
      return "sse";
    case RouteKind::kLegacyMessage:
      return "message";
    case RouteKind::kHealthz:
      return "healthz";
    case RouteKind::kReadyz:
      return "readyz";
    case RouteKind::kResourceMetadata:
      return "oauth-metadata";
    case RouteKind::kNotFound:
      break;
  }
  return path == "/metrics" ? "metrics" : "other";
}

std::string_view RouteTemplate(RouteKind kind) {
  switch (kind) {
    case RouteKind::kMcp:
      return "/metamcp/{endpoint}/mcp";
    case RouteKind::kLegacySse:
      return "/metamcp/{endpoint}/sse";
    case RouteKind::kLegacyMessage:
      return "/metamcp/{endpoint}/message";
    case RouteKind::kHealthz:
      return "/healthz";
    case RouteKind::kReadyz:
      return "/readyz";
    case RouteKind::kResourceMetadata:
      return "/.well-known/oauth-protected-resource/metamcp/{endpoint}/mcp";
    case RouteKind::kNotFound:
      break;
  }
  return "";
}

// A streamed body that keeps the request's span open and counts itself as an open stream
// until it is destroyed.
class TracedStream : public BodyStream {
 public:
  TracedStream(std::unique_ptr<BodyStream> inner, telemetry::Span span, prometheus::Gauge& open)
      : inner_(std::move(inner)), span_(std::move(span)), open_(open) {
    open_.Increment();
  }
  ~TracedStream() override {
    inner_.reset();
    open_.Decrement();
  }
  asio::awaitable<std::optional<std::string>> Next() override { return inner_->Next(); }

 private:
  std::unique_ptr<BodyStream> inner_;
  telemetry::Span span_;
  prometheus::Gauge& open_;
};

}  // namespace

RequestTelemetry::RequestTelemetry(HttpRequest* request, const Route& route)
    : started_(std::chrono::steady_clock::now()),
      http_method_(request->method),
      endpoint_(route.endpoint),
      route_(RouteLabel(route.kind, request->path)) {
  telemetry::TraceHeaders incoming;
  jsonrpc::Envelope env;
  bool scanned = false;
  if (request->method == "POST" && !request->body.empty()) {
    jsonrpc::ScanError error;
    scanned = jsonrpc::Scan(request->body, &env, &error);
    if (scanned) {
      mcp_method_ = env.method;
      incoming = telemetry::ExtractMeta(request->body, env);
    }
  }
  // The MCP message's own context wins over the HTTP request's.
  std::optional<telemetry::SpanContext> parent = telemetry::Extract(incoming);
  if (!parent) {
    incoming.traceparent = std::string(request->Header("traceparent").value_or(""));
    incoming.tracestate = std::string(request->Header("tracestate").value_or(""));
    incoming.baggage = std::string(request->Header("baggage").value_or(""));
    parent = telemetry::Extract(incoming);
  }
  std::string_view route_template = RouteTemplate(route.kind);
  std::string name =
      route_template.empty() ? request->method : StrCat(request->method, " ", route_template);
  span_ = telemetry::Tracer::Global().StartSpan(name, telemetry::SpanKind::kServer,
                                                parent.value_or(telemetry::SpanContext{}));
  if (parent || span_.context().valid()) {
    request->trace = span_.Headers(parent ? incoming.baggage : std::string());
  }
  request->span = &span_;
  if (request->log_context != nullptr) {
    // The request's log lines name the edge's own span (the one exported), not the client's.
    if (span_.context().valid()) {
      request->log_context->trace_id = telemetry::ToHex(span_.context().trace_id);
      request->log_context->span_id = telemetry::ToHex(span_.context().span_id);
    }
    request->log_context->endpoint = route.endpoint;
  }
  if (!span_.recording()) return;
  span_.SetAttribute("http.request.method", request->method);
  if (!route_template.empty()) span_.SetAttribute("http.route", route_template);
  if (!route.endpoint.empty()) span_.SetAttribute("switchboard.endpoint", route.endpoint);
  if (!mcp_method_.empty()) span_.SetAttribute("mcp.method.name", mcp_method_);
  if (scanned && mcp_method_ == "tools/call" && !env.params.empty() &&
      request->body[env.params.pos] == '{') {
    if (auto name_span = jsonrpc::FindMember(request->body, env.params, "name")) {
      if (auto tool = jsonrpc::DecodeString(name_span->In(request->body))) {
        span_.SetAttribute("gen_ai.tool.name", *tool);
      }
    }
  }
  if (auto session = request->Header("mcp-session-id")) {
    span_.SetAttribute("mcp.session.id", telemetry::HashSessionId(*session));
  }
  if (auto version = request->Header("mcp-protocol-version")) {
    span_.SetAttribute("mcp.protocol.version", *version);
  }
  span_.SetAttribute("client.address", request->remote_address);
}

void RequestTelemetry::Finish(HttpResponse* response) {
  int status = response->status;
  // An unknown endpoint is not a label value: clients choose the path.
  std::string endpoint = status == 404 ? std::string() : endpoint_;
  std::string status_text = std::to_string(status);
  std::string method(telemetry::McpMethodLabel(mcp_method_));
  EdgeMetrics& metrics = Metrics();
  prometheus::Labels labels{
      {"endpoint", endpoint}, {"route", route_}, {"method", method}, {"status", status_text}};
  metrics.requests.Add(labels).Increment();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  metrics.latency.Add(labels, telemetry::LatencyBuckets()).Observe(seconds);
  if (mcp_method_ == "initialize" && response->Header("mcp-session-id")) {
    metrics.sessions_open.Add({}).Increment();
  } else if (http_method_ == "DELETE" && status == 204) {
    metrics.sessions_open.Add({}).Decrement();
  }

  if (span_.recording()) {
    span_.SetAttribute("http.response.status_code", static_cast<int64_t>(status));
    if (!response->stream && !response->body.empty() && response->body[0] == '{') {
      jsonrpc::Envelope env;
      jsonrpc::ScanError error;
      if (jsonrpc::Scan(response->body, &env, &error)) {
        if (int code = telemetry::ErrorCodeOf(response->body, env); code != 0) {
          span_.SetAttribute("rpc.jsonrpc.error_code", static_cast<int64_t>(code));
          span_.SetStatus(telemetry::StatusCode::kError, "JSON-RPC error");
        }
      }
    }
    if (status >= 500) span_.SetStatus(telemetry::StatusCode::kError, status_text);
  }
  if (response->stream) {
    response->stream =
        std::make_unique<TracedStream>(std::move(response->stream), std::move(span_),
                                       metrics.streams_open.Add({{"route", route_}}));
  } else {
    span_.End();
  }
}

void CountRateLimited(const std::string& endpoint) {
  Metrics().rate_limited.Add({{"endpoint", endpoint}}).Increment();
}

void CountAuthReused(const std::string& endpoint) {
  Metrics().auth_reused.Add({{"endpoint", endpoint}}).Increment();
}

HttpResponse MetricsResponse() {
  HttpResponse response;
  response.status = 200;
  response.SetHeader("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
  response.body = telemetry::SerializeMetrics();
  return response;
}

}  // namespace switchboard::edge
