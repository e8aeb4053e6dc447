#include "tools/sbctl/src/cli.h"

#include <charconv>
#include <map>
#include <optional>
#include <set>

#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include "switchboard/config/schema.h"
#include "tools/sbctl/src/output.h"

namespace switchboard::sbctl {
namespace {

using registry::v1::Change;

absl::Status UsageError(std::string_view message) {
  return absl::InvalidArgumentError(std::string(message));
}

// The flags that take a value, by every spelling, mapped to one canonical name.
const std::map<std::string, std::string, std::less<>>& ValueFlags() {
  static const auto* flags = new std::map<std::string, std::string, std::less<>>{
      {"--registry", "--registry"}, {"-f", "-f"}, {"--filename", "-f"}, {"--user", "--user"},
      {"--name", "--name"},         {"-o", "-o"}, {"--output", "-o"},
      {"--mode", "--mode"},         {"--namespace", "--namespace"},
      {"--runner", "--runner"},     {"--lines", "--lines"},
      {"--expires-in", "--expires-in"}, {"--endpoints", "--endpoints"},
      {"--since", "--since"},       {"--limit", "--limit"},
      {"--admin-token", "--admin-token"}};
  return *flags;
}

// A whole decimal number (digits only), or nullopt.
std::optional<int64_t> ParseCount(std::string_view text) {
  int64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || n < 0) {
    return std::nullopt;
  }
  return n;
}

// A whole number followed by d, h, m or s, in seconds; nullopt when it is not one.
std::optional<int64_t> ParseDuration(std::string_view v) {
  char suffix = v.empty() ? '\0' : v.back();
  int64_t unit = suffix == 'd' ? 86400 : suffix == 'h' ? 3600 : suffix == 'm' ? 60
                 : suffix == 's' ? 1 : 0;
  std::optional<int64_t> n = ParseCount(v.substr(0, v.empty() ? 0 : v.size() - 1));
  if (unit == 0 || !n || *n == 0 || *n > 100000000) return std::nullopt;
  return *n * unit;
}

}  // namespace

absl::StatusOr<Command> ParseArgs(const std::vector<std::string>& args, const char* env_registry,
                                  const char* env_runner) {
  Command command;
  command.registry =
      env_registry != nullptr && *env_registry != '\0' ? env_registry : kDefaultRegistry;
  command.runner = env_runner != nullptr && *env_runner != '\0' ? env_runner : kDefaultRunner;
  std::vector<std::string> words;
  std::map<std::string, std::string> values;  // canonical flag -> value
  std::set<std::string> seen;                 // every flag given, canonical
  bool help = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      help = true;
      continue;
    }
    if (arg == "--dry-run" || arg == "--show-secrets") {
      seen.insert(arg);
      continue;
    }
    if (arg.size() > 1 && arg[0] == '-' && arg != "-") {
      std::string_view flag = arg;
      std::string value;
      bool inline_value = false;
      size_t eq = flag.find('=');
      if (eq != std::string_view::npos) {
        value = std::string(flag.substr(eq + 1));
        flag = flag.substr(0, eq);
        inline_value = true;
      }
      auto it = ValueFlags().find(flag);
      if (it == ValueFlags().end()) return UsageError(StrCat("unknown flag '", flag, "'"));
      if (!inline_value) {
        if (i + 1 >= args.size()) return UsageError(StrCat(flag, " needs a value"));
        value = args[++i];
      }
      if (value.empty()) return UsageError(StrCat(flag, " needs a value"));
      if (!values.emplace(it->second, value).second) {
        return UsageError(StrCat(flag, " given twice"));
      }
      seen.insert(it->second);
      continue;
    }
    words.push_back(arg);
  }
  if (auto it = values.find("--registry"); it != values.end()) command.registry = it->second;
  seen.erase("--registry");
  if (absl::Status s = config::CheckHostPort(command.registry); !s.ok()) {
    return UsageError(StrCat("--registry: ", MessageOf(s)));
  }
  if (auto it = values.find("--admin-token"); it != values.end()) command.admin_token = it->second;
  seen.erase("--admin-token");
  if (auto it = values.find("--runner"); it != values.end()) command.runner = it->second;
  seen.erase("--runner");
  if (absl::Status s = config::CheckHostPort(command.runner); !s.ok()) {
    return UsageError(StrCat("--runner: ", MessageOf(s)));
  }
  if (help || words.empty()) {
    if (!help) return UsageError("no command given");
    return command;
  }

  std::set<std::string> allowed;
  const std::string& verb = words[0];
  // The kind word of get/describe/delete, from the one kind table.
  auto parse_kind = [&](std::string_view usage) -> absl::Status {
    const KindInfo* kind = words.size() >= 2 ? FindKind(words[1]) : nullptr;
    if (kind == nullptr) return UsageError(StrCat("usage: ", usage, " (kinds: ", KindList(), ")"));
    command.kind = kind->kind;
    return absl::OkStatus();
  };
  if (verb == "apply") {
    command.verb = Verb::kApply;
    allowed = {"-f", "--dry-run", "--mode"};
    if (words.size() > 1)
      return UsageError(StrCat("apply takes no arguments, got '", words[1], "'"));
    if (!values.count("-f")) return UsageError("apply needs -f FILE");
    command.file = values["-f"];
    command.dry_run = seen.count("--dry-run") > 0;
    if (auto it = values.find("--mode"); it != values.end()) {
      if (it->second == "upsert") {
        command.mode = registry::v1::ApplyRequest::UPSERT;
      } else if (it->second == "create-only") {
        command.mode = registry::v1::ApplyRequest::CREATE_ONLY;
      } else if (it->second == "prune") {
        command.mode = registry::v1::ApplyRequest::PRUNE;
      } else {
        return UsageError(StrCat("--mode: must be upsert, create-only or prune, got '",
                                 it->second, "'"));
      }
    }
  } else if ((verb == "get" || verb == "delete") && words.size() >= 2 &&
             (words[1] == "sessions" || words[1] == "session")) {
    command.verb = verb == "get" ? Verb::kGetSessions : Verb::kDeleteSessions;
    allowed = {"--user"};
    if (verb == "get") allowed.insert("-o");
    std::string usage = StrCat("usage: sbctl ", verb, " sessions --user EMAIL",
                               verb == "get" ? " [-o table|json|yaml]" : " [ID]");
    if (words.size() > (verb == "get" ? 2u : 3u)) return UsageError(usage);
    if (words.size() == 3) command.name = words[2];
    if (!values.count("--user")) return UsageError(usage);
    command.user_email = values["--user"];
  } else if (verb == "audit") {
    command.verb = Verb::kAudit;
    allowed = {"--user", "--since", "--limit", "-o"};
    if (words.size() > 1) {
      return UsageError("usage: sbctl audit [--user EMAIL] [--since 1h] [--limit N] [-o json]");
    }
    if (values.count("--user")) command.user_email = values["--user"];
    if (auto it = values.find("--since"); it != values.end()) {
      std::optional<int64_t> seconds = ParseDuration(it->second);
      if (!seconds) {
        return UsageError(StrCat("--since: expected a duration such as 1h, 30m or 7d, got '",
                                 it->second, "'"));
      }
      command.since_seconds = *seconds;
    }
    if (auto it = values.find("--limit"); it != values.end()) {
      std::optional<int64_t> n = ParseCount(it->second);
      if (!n || *n < 1 || *n > 1000) return UsageError("--limit: expected 1 to 1000");
      command.limit = static_cast<int>(*n);
    }
  } else if (verb == "get") {
    command.verb = Verb::kGet;
    allowed = {"-o"};
    SB_RETURN_IF_ERROR(parse_kind("sbctl get KIND [NAME] [-o table|json|yaml]"));
    if (words.size() > 3) return UsageError("usage: sbctl get KIND [NAME] [-o table|json|yaml]");
    if (words.size() == 3) command.name = words[2];
  } else if (verb == "describe") {
    command.verb = Verb::kDescribe;
    allowed = {"-o"};
    SB_RETURN_IF_ERROR(parse_kind("sbctl describe KIND NAME [-o table|json|yaml]"));
    if (words.size() != 3) return UsageError("usage: sbctl describe KIND NAME");
    command.name = words[2];
  } else if (verb == "export") {
    command.verb = Verb::kExport;
    allowed = {"-o", "--show-secrets"};
    if (words.size() > 1) return UsageError("export takes no arguments");
    command.show_secrets = seen.count("--show-secrets") > 0;
    command.yaml = true;
  } else if (verb == "import-mcpservers") {
    command.verb = Verb::kImportMcpServers;
    allowed = {"--namespace", "--dry-run"};
    if (words.size() != 2) {
      return UsageError("usage: sbctl import-mcpservers FILE [--namespace NAME] [--dry-run]");
    }
    command.file = words[1];
    command.dry_run = seen.count("--dry-run") > 0;
    if (values.count("--namespace")) command.namespace_name = values["--namespace"];
  } else if (verb == "create") {
    command.verb = Verb::kCreateApiKey;
    allowed = {"--user", "--name", "-o", "--expires-in", "--endpoints"};
    if (words.size() != 2 || FindKind(words[1]) == nullptr ||
        FindKind(words[1])->kind != Change::API_KEY) {
      return UsageError(
          "usage: sbctl create apikey --user EMAIL [--name NAME] [--expires-in 90d] "
          "[--endpoints A,B]");
    }
    if (!values.count("--user")) return UsageError("create apikey needs --user EMAIL");
    command.user_email = values["--user"];
    if (values.count("--name")) command.key_name = values["--name"];
    if (auto it = values.find("--expires-in"); it != values.end()) {
      std::optional<int64_t> seconds = ParseDuration(it->second);
      if (!seconds) {
        return UsageError(StrCat("--expires-in: expected a duration such as 90d, 12h, 30m or "
                                 "3600s, got '", it->second, "'"));
      }
      command.expires_in_seconds = *seconds;
    }
    if (auto it = values.find("--endpoints"); it != values.end()) {
      command.endpoints = SplitList(it->second);
    }
  } else if (verb == "delete") {
    command.verb = Verb::kDelete;
    SB_RETURN_IF_ERROR(parse_kind("sbctl delete KIND NAME"));
    if (words.size() != 3) return UsageError("usage: sbctl delete KIND NAME");
    command.name = words[2];
  } else if (verb == "runner") {
    allowed = {"-o"};
    if (words.size() == 2 && words[1] == "ps") {
      command.verb = Verb::kRunnerPs;
    } else if (words.size() == 3 && words[1] == "restart") {
      command.verb = Verb::kRunnerRestart;
      command.name = words[2];
      allowed = {};
    } else if (words.size() == 3 && words[1] == "drain") {
      command.verb = Verb::kRunnerDrain;
      command.name = words[2];
      allowed = {};
    } else {
      return UsageError(
          "usage: sbctl runner ps [-o table|json] | sbctl runner restart SERVER | "
          "sbctl runner drain SERVER");
    }
  } else if (verb == "logs") {
    command.verb = Verb::kLogs;
    allowed = {"--lines"};
    if (words.size() != 3 || words[1] != "server") {
      return UsageError("usage: sbctl logs server NAME [--lines N]");
    }
    command.name = words[2];
    if (auto it = values.find("--lines"); it != values.end()) {
      std::optional<int64_t> n = ParseCount(it->second);
      if (!n || *n < 1 || *n > 10000) return UsageError("--lines: expected 1 to 10000");
      command.lines = static_cast<int>(*n);
    }
  } else {
    return UsageError(StrCat("unknown command '", verb, "'"));
  }
  for (const std::string& flag : seen) {
    if (!allowed.count(flag)) return UsageError(StrCat(flag, " does not apply to '", verb, "'"));
  }
  if (auto it = values.find("-o"); it != values.end()) {
    bool tables = command.verb == Verb::kGet || command.verb == Verb::kDescribe ||
                  command.verb == Verb::kRunnerPs || command.verb == Verb::kGetSessions ||
                  command.verb == Verb::kAudit;
    bool yaml = command.verb != Verb::kCreateApiKey;
    command.json = it->second == "json";
    command.yaml = it->second == "yaml" && yaml && command.verb != Verb::kRunnerPs;
    if (!command.json && !command.yaml && !(it->second == "table" && tables)) {
      return UsageError(StrCat("-o: unknown output format '", it->second, "' for '", verb, "'"));
    }
  }
  return command;
}

std::string Usage() {
  return R"(sbctl: manage a Switchboard registry

Usage:
  sbctl apply -f FILE [--mode upsert|create-only|prune] [--dry-run]
        apply a switchboard.yaml (FILE "-" reads stdin) and print what changed; ${VAR} in
        values comes from the environment ($${ for a literal ${)
  sbctl get KIND [NAME] [-o table|json|yaml]
  sbctl describe KIND NAME [-o table|json|yaml]
  sbctl delete KIND NAME
  sbctl export [-o yaml|json] [--show-secrets]
        the whole configuration as a file apply reproduces (secrets read "***", which apply
        keeps as stored)
  sbctl import-mcpservers FILE [--namespace NAME] [--dry-run]
        create servers from a Claude Desktop / Cursor "mcpServers" JSON file
  sbctl create apikey --user EMAIL [--name NAME] [--expires-in 90d] [--endpoints A,B] [-o json]
        a key that stops working after the duration (d, h, m, s), and only on the named
        endpoints when given
  sbctl runner ps [-o table|json]
        the runner's server processes: pid, state, the user or session a per-user or
        per-session process serves, uptime, callers, sessions, requests in flight, requests
        queued, restarts, memory, last failure (-o json lists the sessions)
  sbctl runner restart SERVER
        stop SERVER's processes; callers in flight get an error, the next call starts it again
  sbctl runner drain SERVER
        stop giving SERVER's processes new work, let their requests finish, then stop them;
        requests meanwhile wait for a fresh process
  sbctl logs server NAME [--lines N]
        the last N (default 100) lines NAME wrote to stderr, its secrets masked
  sbctl get sessions --user EMAIL [-o table|json|yaml]
  sbctl delete sessions --user EMAIL [ID]
        a user's live MCP sessions; delete ends them all (or the one named): their next
        request gets 404
  sbctl audit [--user EMAIL] [--since 1h] [--limit N] [-o json|yaml]
        recorded tools/calls, newest first: time, user, endpoint, tool, outcome, duration

Kinds: servers, namespaces, endpoints, users, apikeys, tooloverrides (singular works too; a
tool override's NAME is namespace/server/tool, an API key's its id)

Global flags:
  --registry HOST:PORT   the registry's admin API (default: $SWITCHBOARD_REGISTRY_ADDRESS,
                         else 127.0.0.1:7103)
  --runner HOST:PORT     a runner's admin API (default: $SWITCHBOARD_RUNNER_ADDRESS, else
                         127.0.0.1:7102)
  --admin-token TOKEN    the admin credential both admin APIs require: the admin token or an
                         admin's API key (default: $SWITCHBOARD_ADMIN_TOKEN, which keeps it out
                         of the process list)
  -h, --help             show this help

Exit status: 0 done, 1 the registry refused the request or could not be reached, 2 bad
arguments or an invalid file.
)";
}

}  // namespace switchboard::sbctl
