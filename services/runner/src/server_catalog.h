#pragma once

#include <absl/status/statusor.h>

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::runner {

// What the runner needs to know about one MCP server of the registry.
struct ServerSpec {
  std::string name;
  std::string type;  // "STDIO" | "SSE" | "STREAMABLE_HTTP"; the runner only runs STDIO
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // secret values: never logged
};

// Where server definitions come from: the registry's Watch-fed cache in production, a fixed
// table in tests.
class ServerCatalog {
 public:
  virtual ~ServerCatalog() = default;

  // Thread-safe. NotFound for an unknown server; Unavailable while no configuration is loaded.
  virtual absl::StatusOr<ServerSpec> Find(std::string_view name) const = 0;
};

// A ServerCatalog over a table that callers fill and change (tests, local tools). Thread-safe.
class StaticServerCatalog final : public ServerCatalog {
 public:
  // Adds or replaces the server named spec.name.
  void Put(ServerSpec spec);
  // Forgets a server.
  void Remove(std::string_view name);

  absl::StatusOr<ServerSpec> Find(std::string_view name) const override;

 private:
  mutable std::mutex mu_;
  std::map<std::string, ServerSpec, std::less<>> servers_;
};

}  // namespace switchboard::runner
