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
  telemetry::Span span =
      tracer_->StartSpan(StrCat("runner ", env.method), telemetry::SpanKind::kServer, *parent);
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

ProcessTotals SumProcesses(const std::vector<ProcessStatus>& processes) {
  static constexpr std::array<std::string_view, 7> kStates = {
      "idle", "starting", "ready", "draining", "stopping", "backoff", "breaker-open"};
  ProcessTotals totals;
  for (std::string_view state : kStates) totals.by_state[std::string(state)] = 0;
  for (const ProcessStatus& p : processes) {
    totals.by_state[p.state] += 1;
    ProcessTotals::Server& server = totals.by_server[p.server];
    server.restarts = p.restarts;  // the pool's count, on each of its rows
    server.in_flight += p.in_flight;
    // A shared pool's rows each carry all of its attachments; a keyed process, its own.
    server.attachments =
        p.isolation == "shared" ? p.attachments : server.attachments + p.attachments;
  }
  return totals;
}

void ExportProcessMetrics(RunnerService* service) {
  auto& registry = telemetry::MetricsRegistry();
  auto& processes = prometheus::BuildGauge()
                        .Name("sb_runner_processes")
                        .Help(
                            "Server processes by state (idle, starting, ready, draining, "
                            "stopping, backoff, breaker-open)")
                        .Register(registry);
  auto& restarts = prometheus::BuildGauge()
                       .Name("sb_runner_process_restarts")
                       .Help(
                           "Processes started after the first, by server (since the runner "
                           "started)")
                       .Register(registry);
  auto& attachments = prometheus::BuildGauge()
                          .Name("sb_runner_attachments")
                          .Help("Callers attached to a server's processes, by server")
                          .Register(registry);
  auto& in_flight = prometheus::BuildGauge()
                        .Name("sb_runner_in_flight")
                        .Help("Requests on a server's processes waiting for an answer, by server")
                        .Register(registry);
  telemetry::OnScrape([service, &processes, &restarts, &attachments, &in_flight] {
    ProcessTotals totals = SumProcesses(service->ListProcesses());
    for (const auto& [state, count] : totals.by_state) {
      processes.Add({{"state", state}}).Set(static_cast<double>(count));
    }
    for (const auto& [server, t] : totals.by_server) {
      restarts.Add({{"server", server}}).Set(static_cast<double>(t.restarts));
      attachments.Add({{"server", server}}).Set(static_cast<double>(t.attachments));
      in_flight.Add({{"server", server}}).Set(static_cast<double>(t.in_flight));
    }
  });
}

}  // namespace switchboard::runner
