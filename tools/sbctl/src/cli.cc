#include "tools/sbctl/src/cli.h"

#include <map>
#include <set>

#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include "switchboard/config/schema.h"

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
      {"--name", "--name"},         {"-o", "-o"}, {"--output", "-o"}};
  return *flags;
}

bool ParseGetKind(std::string_view word, Change::Kind* kind) {
  static const auto* kinds = new std::map<std::string, Change::Kind, std::less<>>{
      {"servers", Change::SERVER},       {"server", Change::SERVER},
      {"namespaces", Change::NAMESPACE}, {"namespace", Change::NAMESPACE},
      {"endpoints", Change::ENDPOINT},   {"endpoint", Change::ENDPOINT},
      {"users", Change::USER},           {"user", Change::USER}};
  auto it = kinds->find(word);
  if (it == kinds->end()) return false;
  *kind = it->second;
  return true;
}

bool ParseDeleteKind(std::string_view word, Change::Kind* kind) {
  static const auto* kinds = new std::map<std::string, Change::Kind, std::less<>>{
      {"server", Change::SERVER}, {"namespace", Change::NAMESPACE}, {"endpoint", Change::ENDPOINT},
      {"user", Change::USER},     {"apikey", Change::API_KEY},      {"api-key", Change::API_KEY}};
  auto it = kinds->find(word);
  if (it == kinds->end()) return false;
  *kind = it->second;
  return true;
}

}  // namespace

absl::StatusOr<Command> ParseArgs(const std::vector<std::string>& args, const char* env_registry) {
  Command command;
  command.registry =
      env_registry != nullptr && *env_registry != '\0' ? env_registry : kDefaultRegistry;
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
    if (arg == "--dry-run") {
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
  if (help || words.empty()) {
    if (!help) return UsageError("no command given");
    return command;
  }

  std::set<std::string> allowed;
  const std::string& verb = words[0];
  if (verb == "apply") {
    command.verb = Verb::kApply;
    allowed = {"-f", "--dry-run"};
    if (words.size() > 1)
      return UsageError(StrCat("apply takes no arguments, got '", words[1], "'"));
    if (!values.count("-f")) return UsageError("apply needs -f FILE");
    command.file = values["-f"];
    command.dry_run = seen.count("--dry-run") > 0;
  } else if (verb == "get") {
    command.verb = Verb::kGet;
    allowed = {"-o"};
    if (words.size() != 2 || !ParseGetKind(words[1], &command.kind)) {
      return UsageError("usage: sbctl get servers|namespaces|endpoints|users");
    }
  } else if (verb == "create") {
    command.verb = Verb::kCreateApiKey;
    allowed = {"--user", "--name", "-o"};
    if (words.size() != 2 || (words[1] != "apikey" && words[1] != "api-key")) {
      return UsageError("usage: sbctl create apikey --user EMAIL [--name NAME]");
    }
    if (!values.count("--user")) return UsageError("create apikey needs --user EMAIL");
    command.user_email = values["--user"];
    if (values.count("--name")) command.key_name = values["--name"];
  } else if (verb == "delete") {
    command.verb = Verb::kDelete;
    if (words.size() != 3 || !ParseDeleteKind(words[1], &command.kind)) {
      return UsageError("usage: sbctl delete server|namespace|endpoint|user|apikey NAME");
    }
    command.name = words[2];
  } else {
    return UsageError(StrCat("unknown command '", verb, "'"));
  }
  for (const std::string& flag : seen) {
    if (!allowed.count(flag)) return UsageError(StrCat(flag, " does not apply to '", verb, "'"));
  }
  if (auto it = values.find("-o"); it != values.end()) {
    if (it->second == "json") {
      command.json = true;
    } else if (it->second != "table" || command.verb != Verb::kGet) {
      return UsageError(StrCat("-o: unknown output format '", it->second, "'"));
    }
  }
  return command;
}

std::string Usage() {
  return R"(sbctl: manage a Switchboard registry

Usage:
  sbctl apply -f FILE [--dry-run]        apply a switchboard.yaml (FILE "-" reads stdin)
  sbctl get servers|namespaces|endpoints|users [-o table|json]
  sbctl create apikey --user EMAIL [--name NAME] [-o json]
  sbctl delete server|namespace|endpoint|user|apikey NAME

Global flags:
  --registry HOST:PORT   the registry's admin API (default: $SWITCHBOARD_REGISTRY_ADDRESS,
                         else 127.0.0.1:7103)
  -h, --help             show this help

Exit status: 0 done, 1 the registry refused the request or could not be reached, 2 bad
arguments or an invalid file.
)";
}

}  // namespace switchboard::sbctl
