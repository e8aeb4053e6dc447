#include "services/runner/src/runner_telemetry.h"

#include <array>
#include <map>

#include "switchboard/common/strings.h"
#include "switchboard/jsonrpc/message.h"
#include "switchboard/telemetry/mcp_meta.h"
#include "switchboard/telemetry/metrics.h"

namespace switchboard::runner {

void AttachTelemetry::SetServer(std::string server) {
  std::lock_guard<std::mutex> lock(mu_);
  server_ = std::move(server);
}

void AttachTelemetry::SetPid(int64_t pid) {
  std::lock_guard<std::mutex> lock(mu_);
  pid_ = pid;
}

std::string AttachTelemetry::OnRequest(std::string message, const v1::AttachRequest& frame) {
  if (frame.traceparent().empty()) return message;
  std::optional<telemetry::SpanContext> parent =
      telemetry::Extract({frame.traceparent(), frame.tracestate(), frame.baggage()});
  if (!parent) return message;
  jsonrpc::Envelope env;
  jsonrpc::ScanError error;
  if (!jsonrpc::Scan(message, &env, &error) || env.kind == jsonrpc::Kind::kResponse) {
    return message;
  }
  std::lock_guard<std::mutex> lock(mu_);
  telemetry::Span span = telemetry::Tracer::Global().StartSpan(
      StrCat("runner ", env.method), telemetry::SpanKind::kServer, *parent);
  if (span.recording()) {
    span.SetAttribute("mcp.method.name", env.method);
    span.SetAttribute("switchboard.server", server_);
    span.SetAttribute("process.pid", pid_);
    if (env.method == "tools/call" && !env.params.empty() && message[env.params.pos] == '{') {
      if (auto name = jsonrpc::FindMember(message, env.params, "name")) {
        if (auto tool = jsonrpc::DecodeString(name->In(message))) {
          span.SetAttribute("gen_ai.tool.name", *tool);
        }
      }
    }
  }
  std::string traced = telemetry::InjectMeta(message, env, span.Headers(frame.baggage()));
  if (env.kind == jsonrpc::Kind::kRequest && span.recording() && open_.size() < kMaxOpen) {
    open_.insert_or_assign(std::string(env.id.In(message)), std::move(span));
    open_count_.store(open_.size());
  }
  return traced;
}

void AttachTelemetry::OnResponse(std::string_view message) {
  if (open_count_.load() == 0) return;
  jsonrpc::Envelope env;
  jsonrpc::ScanError error;
  if (!jsonrpc::Scan(message, &env, &error) || env.kind != jsonrpc::Kind::kResponse) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = open_.find(std::string(env.id.In(message)));
  if (it == open_.end()) return;
  telemetry::Span& span = it->second;
  if (int code = telemetry::ErrorCodeOf(message, env); code != 0 && span.recording()) {
    span.SetAttribute("rpc.jsonrpc.error_code", static_cast<int64_t>(code));
    span.SetStatus(telemetry::StatusCode::kError, "JSON-RPC error");
  }
  open_.erase(it);  // ends the span
  open_count_.store(open_.size());
}

void ExportProcessMetrics(RunnerService* service) {
  auto& registry = telemetry::MetricsRegistry();
  auto& processes = prometheus::BuildGauge()
                        .Name("sb_runner_processes")
                        .Help("Server processes by state (idle, starting, ready, backoff)")
                        .Register(registry);
  auto& restarts = prometheus::BuildGauge()
                       .Name("sb_runner_process_restarts")
                       .Help(
                           "Processes started after the first, by server (since the runner "
                           "started)")
                       .Register(registry);
  auto& attachments = prometheus::BuildGauge()
                          .Name("sb_runner_attachments")
                          .Help("Callers attached to a server's process, by server")
                          .Register(registry);
  auto& in_flight = prometheus::BuildGauge()
                        .Name("sb_runner_in_flight")
                        .Help("Requests waiting for a server's answer (its queue), by server")
                        .Register(registry);
  telemetry::OnScrape([service, &processes, &restarts, &attachments, &in_flight] {
    static constexpr std::array<std::string_view, 4> kStates = {"idle", "starting", "ready",
                                                                "backoff"};
    std::map<std::string, int, std::less<>> by_state;
    for (std::string_view state : kStates) by_state[std::string(state)] = 0;
    for (const ProcessStatus& p : service->ListProcesses()) {
      by_state[p.state] += 1;
      restarts.Add({{"server", p.server}}).Set(static_cast<double>(p.restarts));
      attachments.Add({{"server", p.server}}).Set(static_cast<double>(p.attachments));
      in_flight.Add({{"server", p.server}}).Set(static_cast<double>(p.in_flight));
    }
    for (const auto& [state, count] : by_state) processes.Add({{"state", state}}).Set(count);
  });
}

}  // namespace switchboard::runner
