#pragma once

#include <absl/status/statusor.h>

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "services/runner/src/process_launcher.h"

namespace switchboard::runner {

// A server's process pool settings (registry Server fields 10 and up); 0 and "" mean the
// runner's default.
struct PoolSettings {
  std::string isolation;           // "" / "shared", "per-user", "per-session"
  int64_t min_processes = 0;       // shared: kept running from config time
  int64_t max_processes = 0;       // 0 = 1 for shared, 100 for per-user / per-session
  int64_t max_in_flight = 0;       // requests one process serves at once; 0 = unbounded
  int64_t queue_size = 0;          // 0 = 1000
  int64_t queue_timeout_ms = 0;    // 0 = 30000
  int64_t idle_timeout_ms = 0;     // 0 = RunnerOptions::idle_timeout_ms
  int64_t request_timeout_ms = 0;  // 0 = none
  std::string cwd;                 // "" = the runner's
  ResourceLimits limits;           // 0 fields = the runner's limit_* defaults
};

// What the runner needs to know about one MCP server of the registry.
struct ServerSpec {
  std::string name;
  std::string type;  // "STDIO" | "SSE" | "STREAMABLE_HTTP"; the runner only runs STDIO
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // secret values: never logged
  PoolSettings pool;
};

// Where server definitions come from: the registry's Watch-fed cache in production, a fixed
// table in tests.
class ServerCatalog {
 public:
  virtual ~ServerCatalog() = default;

  // Thread-safe. NotFound for an unknown server; Unavailable while no configuration is loaded.
  virtual absl::StatusOr<ServerSpec> Find(std::string_view name) const = 0;
  // Every server known now (for warm starts); empty while no configuration is loaded.
  virtual std::vector<ServerSpec> List() const = 0;
};

// A ServerCatalog over a table that callers fill and change (tests, local tools). Thread-safe.
class StaticServerCatalog final : public ServerCatalog {
 public:
  // Adds or replaces the server named spec.name.
  void Put(ServerSpec spec);
  // Forgets a server.
  void Remove(std::string_view name);

  absl::StatusOr<ServerSpec> Find(std::string_view name) const override;
  std::vector<ServerSpec> List() const override;

 private:
  mutable std::mutex mu_;
  std::map<std::string, ServerSpec, std::less<>> servers_;
};

}  // namespace switchboard::runner
