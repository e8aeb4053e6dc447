#pragma once

#include <chrono>
#include <string>

#include "services/edge/src/http_types.h"
#include "services/edge/src/request.h"
#include "switchboard/telemetry/tracer.h"

namespace switchboard::edge {

// What the edge records of one HTTP request: its span (a child of the client's trace context,
// from params._meta or else the traceparent header) and its metrics (requests and latency by
// endpoint, MCP method and status; sessions and SSE streams open).
class RequestTelemetry {
 public:
  // Starts the span of `request` (routed to `route`) and sets `request->trace` to its context,
  // for auth and the router, and `request->span` to it until Finish.
  RequestTelemetry(HttpRequest* request, const Route& route);

  // Records the response: status, JSON-RPC error code, metrics. A streamed response's span
  // ends with its stream (the stream is wrapped); any other span ends here.
  void Finish(HttpResponse* response);

 private:
  telemetry::Span span_;
  std::chrono::steady_clock::time_point started_;
  std::string http_method_;
  std::string endpoint_;
  std::string mcp_method_;
  std::string route_;
};

// Counts a request the rate limits refused on `endpoint` (sb_edge_rate_limited_total), however
// the refusal travels.
void CountRateLimited(const std::string& endpoint);

// Counts a request on `endpoint` let through on an answer auth had given before
// (sb_edge_auth_reused_total), instead of asking auth again.
void CountAuthReused(const std::string& endpoint);

// The edge's /metrics page.
HttpResponse MetricsResponse();

}  // namespace switchboard::edge
