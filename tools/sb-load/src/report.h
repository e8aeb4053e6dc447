#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "tools/sb-load/src/histogram.h"
#include "tools/sb-load/src/mcp.h"

namespace switchboard::load {

// CPU and memory of one watched process over the measured window.
struct ProcessUsage {
  int pid = 0;
  std::string name;
  std::optional<uint64_t> cpu_us;  // CPU time used during the window; nullopt if unreadable
  std::optional<uint64_t> rss_before_kb;
  std::optional<uint64_t> rss_after_kb;
};

// Outcome of the requests of one kind.
struct KindResult {
  uint64_t ok = 0;
  uint64_t failed = 0;
  Histogram latency;  // every measured request, failed ones included
};

// What a run measured. Only requests sent in the measured window (after the warm-up) count.
struct Report {
  std::string label;
  std::string target;  // the URL, or "stdio:" + the command
  std::string mode;    // "closed", "open" or "idle"
  int connections = 0;
  double rate = 0;
  double warmup_s = 0;
  double elapsed_s = 0;  // the measured window, from the end of the warm-up to the last answer
  int sessions_opened = 0;
  uint64_t ok = 0;
  uint64_t failed = 0;
  uint64_t not_sent = 0;  // open loop: requests due in the window that never went out
  Histogram latency;
  std::map<RequestKind, KindResult> by_kind;
  std::map<std::string, uint64_t> errors;            // by FailureKey
  std::map<std::string, std::string> error_samples;  // FailureKey -> first detail seen
  std::map<std::string, uint64_t> setup_errors;      // failures to open a session
  uint64_t warmup_failed = 0;
  std::vector<ProcessUsage> processes;
  std::optional<uint64_t> client_cpu_us;  // sb-load's own CPU during the window
  int idle_sessions = 0;                  // idle mode: sessions asked for
  double hold_s = 0;

  uint64_t completed() const { return ok + failed; }
  double throughput() const { return elapsed_s > 0 ? static_cast<double>(ok) / elapsed_s : 0; }
  // Sum of the watched processes' CPU per completed request, in µs; nullopt without pids or
  // requests.
  std::optional<double> CpuPerCall() const;
  // Growth of a watched process's RSS per opened session, in bytes (idle mode).
  std::optional<double> RssPerSession(const ProcessUsage& usage) const;
};

// The report as a few lines of text for a terminal.
std::string FormatText(const Report& report);

// The report as one JSON object (latencies in µs, CPU in µs, RSS in kB), newline-terminated.
std::string FormatJson(const Report& report);

}  // namespace switchboard::load
