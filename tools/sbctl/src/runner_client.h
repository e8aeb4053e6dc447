#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <memory>
#include <string>

#include "switchboard/runner/v1/runner.pb.h"

namespace switchboard::sbctl {

// The runner admin calls sbctl makes (one runner at a time); commands are written against this
// so they can be tested without a runner.
class RunnerClient {
 public:
  virtual ~RunnerClient() = default;
  virtual absl::StatusOr<runner::v1::ListProcessesResponse> ListProcesses() = 0;
  virtual absl::Status RestartServer(const std::string& server) = 0;
  // The number of processes told to drain.
  virtual absl::StatusOr<int64_t> DrainServer(const std::string& server) = 0;
  virtual absl::StatusOr<runner::v1::ServerLogsResponse> ServerLogs(const std::string& server,
                                                                    int max_lines) = 0;
};

// A client of the runner at `address` (host:port); each call waits at most `deadline`.
std::unique_ptr<RunnerClient> MakeGrpcRunnerClient(const std::string& address,
                                                   std::chrono::milliseconds deadline,
    const std::string& admin_token = {});

}  // namespace switchboard::sbctl
