#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "services/runner/src/runner_service.h"
#include "switchboard/runner/v1/runner.pb.h"
#include "switchboard/telemetry/tracer.h"

namespace switchboard::runner {

// The spans of the requests on one Attach stream. Each starts when its request arrives (under
// the router's span, named by the frame's trace fields) and ends when the server's response
// goes back; the request's params._meta carries the span's context to the STDIO server, as
// the MCP trace-context convention places it. Untraced frames pass through untouched and
// unscanned. Thread-safe.
class AttachTelemetry {
 public:
  // `tracer` (the process's by default) must outlive this.
  explicit AttachTelemetry(telemetry::Tracer* tracer = &telemetry::Tracer::Global())
      : tracer_(tracer) {}

  void SetServer(std::string server);
  void SetPid(int64_t pid);
  // The message to hand the server: `message` itself, or with _meta trace fields when `frame`
  // is traced.
  std::string OnRequest(std::string message, const v1::AttachRequest& frame);
  // Ends the span of the request that `message` (from the server) answers, if one is open.
  void OnResponse(std::string_view message);

 private:
  static constexpr size_t kMaxOpen = 10000;  // spans kept open per stream at most

  telemetry::Tracer* tracer_;
  std::mutex mu_;
  std::string server_;
  int64_t pid_ = 0;
  std::unordered_map<std::string, telemetry::Span> open_;  // by the request's raw id
  std::atomic<size_t> open_count_{0};
};

// What one scrape exports of the admin view: processes by state (every state ProcessStatus
// names, 0 when none is in it, so a state left behind reads 0), and per server its restarts and
// its attachments and requests in flight summed over its processes.
struct ProcessTotals {
  struct Server {
    int64_t restarts = 0;
    int64_t attachments = 0;
    int64_t in_flight = 0;
  };
  std::map<std::string, int64_t, std::less<>> by_state;
  std::map<std::string, Server, std::less<>> by_server;
};
ProcessTotals SumProcesses(const std::vector<ProcessStatus>& processes);

// Exports the process pool's state on every scrape: sb_runner_processes by state, and per
// server its restarts, attachments and requests in flight (SumProcesses).
void ExportProcessMetrics(RunnerService* service);

}  // namespace switchboard::runner
