#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::sbctl {

// What the command line asks for.
enum class Verb {
  kHelp,
  kApply,
  kGet,
  kDescribe,
  kExport,
  kImportMcpServers,
  kCreateApiKey,
  kDelete,
  // The runner admin API (--runner): runner ps, runner restart NAME, logs server NAME.
  kRunnerPs,
  kRunnerRestart,
  kRunnerDrain,
  kLogs,
  // Users' MCP sessions (in the edges' Redis, through the registry) and the tools/call audit.
  kGetSessions,
  kDeleteSessions,
  kAudit
};

// True for the verbs served by a runner rather than the registry.
inline bool IsRunnerVerb(Verb verb) {
  return verb == Verb::kRunnerPs || verb == Verb::kRunnerRestart || verb == Verb::kRunnerDrain ||
         verb == Verb::kLogs;
}

// A parsed sbctl command line.
struct Command {
  Verb verb = Verb::kHelp;
  std::string registry;  // HOST:PORT of the registry
  std::string runner;    // HOST:PORT of the runner (runner ps / restart, logs)
  // --admin-token (main falls back to $SWITCHBOARD_ADMIN_TOKEN): a secret, never printed
  std::string admin_token;
  int lines = 100;       // logs --lines
  // apply: -f FILE ("-" reads standard input); import-mcpservers: its FILE argument
  std::string file;
  bool dry_run = false;  // apply, import-mcpservers
  registry::v1::ApplyRequest::Mode mode = registry::v1::ApplyRequest::UPSERT;  // apply --mode
  // get, describe, delete: the kind and (optional for get) the object's key: name, email for a
  // user, id for an API key, "namespace/server/tool" for a tool override
  registry::v1::Change::Kind kind = registry::v1::Change::KIND_UNSPECIFIED;
  std::string name;
  // create apikey
  std::string user_email;
  std::string key_name;
  int64_t expires_in_seconds = 0;       // --expires-in; 0 = never
  std::vector<std::string> endpoints;   // --endpoints a,b: the key's scope; empty = all
  // import-mcpservers --namespace: add the imported servers to this namespace
  std::string namespace_name;
  // export --show-secrets: secrets in clear instead of "***"
  bool show_secrets = false;
  // audit --since: only calls from this many seconds ago on (0: all); --limit: at most this many
  int64_t since_seconds = 0;
  int limit = 0;
  // -o json / -o yaml (get, describe, export, create apikey); neither is a table
  bool json = false;
  bool yaml = false;
};

// Where sbctl finds the registry unless --registry or SWITCHBOARD_REGISTRY_ADDRESS says.
inline constexpr char kDefaultRegistry[] = "127.0.0.1:7103";
// Where sbctl finds the runner unless --runner or SWITCHBOARD_RUNNER_ADDRESS says.
inline constexpr char kDefaultRunner[] = "127.0.0.1:7102";

// Parses sbctl's arguments (argv without argv[0]). `env_registry` is the value of
// SWITCHBOARD_REGISTRY_ADDRESS, or nullptr when unset; --registry wins over it. Global flags may
// come before or after the command. Errors are one line, to be printed as "sbctl: <error>"
// with exit status 2.
// SWITCHBOARD_RUNNER_ADDRESS likewise gives `env_runner`, which --runner overrides.
absl::StatusOr<Command> ParseArgs(const std::vector<std::string>& args, const char* env_registry,
                                  const char* env_runner = nullptr);

// The text `sbctl --help` prints.
std::string Usage();

}  // namespace switchboard::sbctl
