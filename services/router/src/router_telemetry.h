#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "switchboard/jsonrpc/message.h"
#include "switchboard/router/v1/router.pb.h"
#include "switchboard/telemetry/tracer.h"

namespace switchboard::router {

// The router's span for one client request (a child of the edge's, from the frame's trace
// fields). Shared by the upstream calls made for it, so it ends when the last is answered.
struct CallTrace {
  telemetry::Span span;
  std::string baggage;  // passed on as it came
};
using CallSpan = std::shared_ptr<CallTrace>;
CallSpan StartCallSpan(const v1::RouterRequest& request, const jsonrpc::Envelope& env);

// One request to an upstream server: a client span under the call's, and the upstream metrics
// (sb_router_upstream_requests_total by server, method and outcome; its latency histogram;
// requests in flight by server). Recorded when destroyed; the outcome is "cancelled" unless
// Finish or Fail said otherwise.
class UpstreamCall {
 public:
  UpstreamCall(const CallSpan& parent, std::string server, std::string_view method);
  ~UpstreamCall();
  UpstreamCall(const UpstreamCall&) = delete;
  UpstreamCall& operator=(const UpstreamCall&) = delete;

  // The server answered `message` (scanned into `env`): "ok", or "error" with its code.
  void Finish(std::string_view message, const jsonrpc::Envelope& env);
  // The call failed at the gateway: "timeout", "unavailable".
  void Fail(std::string_view outcome);

  const telemetry::Span& span() const { return span_; }
  const std::string& baggage() const;

 private:
  CallSpan parent_;  // kept open until this call is done
  telemetry::Span span_;
  std::string server_;
  std::string method_;
  std::string outcome_ = "cancelled";
  std::chrono::steady_clock::time_point started_;
};

// Counts a merged list that went out without one server's items (`outcome`: timeout, error,
// unavailable).
void CountPartialList(std::string_view server, std::string_view method, std::string_view outcome);

// Makes `call`'s span current on this thread (for Upstream::Send and log lines) for the
// scope's lifetime; does nothing for a null call.
class ScopedUpstream {
 public:
  explicit ScopedUpstream(const UpstreamCall* call);
  ~ScopedUpstream();
  ScopedUpstream(const ScopedUpstream&) = delete;
  ScopedUpstream& operator=(const ScopedUpstream&) = delete;

 private:
  std::optional<telemetry::ScopedActive> active_;
  const std::string* previous_baggage_;
};

// The trace fields of the upstream call made current by ScopedUpstream, for an upstream
// implementation to pass on; empty when none is current.
telemetry::TraceHeaders CurrentTraceHeaders();

}  // namespace switchboard::router
