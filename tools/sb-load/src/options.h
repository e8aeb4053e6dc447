#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "tools/sb-load/src/mcp.h"

namespace switchboard::load {

// One kind of request in the workload and its share (--mix call=95,list=5).
struct MixEntry {
  RequestKind kind = RequestKind::kCall;
  int weight = 0;
};

// Where the load goes: an MCP endpoint over Streamable HTTP.
struct HttpTarget {
  std::string host;
  std::string port;
  std::string target;  // path and query, e.g. /metamcp/demo/mcp
};

// Everything sb-load was asked to do, validated.
struct Options {
  std::string url;                         // the Streamable HTTP endpoint, or empty with --stdio
  HttpTarget http;                         // `url` taken apart
  std::vector<std::string> stdio_command;  // argv of a STDIO server driven directly (--stdio)
  std::string key;                         // API key sent as "Authorization: Bearer"; may be empty
  int connections = 1;
  std::chrono::nanoseconds duration = std::chrono::seconds(10);  // measured phase, hard cap
  std::chrono::nanoseconds warmup{0};
  uint64_t requests = 0;  // measured requests to send; 0: as many as fit in `duration`
  std::vector<MixEntry> mix = {{RequestKind::kCall, 1}};
  std::string tool;  // the tool tools/call names
  double rate = 0;   // requests per second across all connections; 0: closed loop
  std::chrono::nanoseconds timeout = std::chrono::seconds(10);  // per request
  std::vector<int> pids;  // processes whose CPU time (and RSS) is measured
  bool json = false;
  int idle_sessions = 0;  // > 0: open this many sessions, hold them, measure RSS
  std::chrono::nanoseconds hold = std::chrono::seconds(5);
  std::string protocol_version = "2025-06-18";
  std::string label;  // copied into the report
  bool help = false;
};

// Parses sb-load's command line (without argv[0]). `env_key` is $SB_LOAD_KEY (may be null),
// used when --key is absent. Errors are InvalidArgument with one line naming the problem.
absl::StatusOr<Options> ParseArgs(const std::vector<std::string>& args, const char* env_key);

// Parses a duration such as "10s", "250ms", "1.5s", "2m", "500us"; a bare number is seconds.
absl::StatusOr<std::chrono::nanoseconds> ParseDuration(std::string_view text);

// The --help text.
std::string Usage();

}  // namespace switchboard::load
