#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <vector>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::sbctl {

// What the command line asks for.
enum class Verb { kHelp, kApply, kGet, kCreateApiKey, kDelete };

// A parsed sbctl command line.
struct Command {
  Verb verb = Verb::kHelp;
  std::string registry;  // HOST:PORT of the registry
  // apply
  std::string file;  // -f FILE; "-" reads standard input
  bool dry_run = false;
  // get (the plural names) and delete
  registry::v1::Change::Kind kind = registry::v1::Change::KIND_UNSPECIFIED;
  std::string name;  // delete: the object's name (email for a user, id for an API key)
  // create apikey
  std::string user_email;
  std::string key_name;
  // get, create apikey: -o json
  bool json = false;
};

// Where sbctl finds the registry unless --registry or SWITCHBOARD_REGISTRY_ADDRESS says.
inline constexpr char kDefaultRegistry[] = "127.0.0.1:7103";

// Parses sbctl's arguments (argv without argv[0]). `env_registry` is the value of
// SWITCHBOARD_REGISTRY_ADDRESS, or nullptr when unset; --registry wins over it. Global flags may
// come before or after the command. Errors are one line, to be printed as "sbctl: <error>"
// with exit status 2.
absl::StatusOr<Command> ParseArgs(const std::vector<std::string>& args, const char* env_registry);

// The text `sbctl --help` prints.
std::string Usage();

}  // namespace switchboard::sbctl
