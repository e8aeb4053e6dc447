#include "tools/sbctl/src/output.h"

#include <ctime>

#include <algorithm>
#include <set>
#include <utility>

#include "switchboard/common/strings.h"

namespace switchboard::sbctl {
namespace {

using registry::v1::Change;

std::string Join(const std::vector<std::string>& parts, std::string_view separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) {
    if (i > 0) out += separator;
    out += parts[i];
  }
  return out;
}

// Names of a map's keys, sorted (protobuf maps have no stable order).
std::vector<std::string> SortedKeys(const google::protobuf::Map<std::string, std::string>& map) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : map) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  return keys;
}

std::string OrDash(const std::string& s) { return s.empty() ? "-" : s; }

// "2026-11-21 18:40 UTC".
std::string FormatUtc(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) return std::to_string(unix_seconds);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

// "42s", "3m5s", "1h2m", "2d3h".
std::string Uptime(int64_t ms) {
  int64_t s = ms / 1000;
  if (s < 60) return StrCat(s, "s");
  if (s < 3600) return StrCat(s / 60, "m", s % 60, "s");
  if (s < 86400) return StrCat(s / 3600, "h", (s % 3600) / 60, "m");
  return StrCat(s / 86400, "d", (s % 86400) / 3600, "h");
}

std::string Mebibytes(int64_t bytes) {
  if (bytes <= 0) return "-";
  return StrCat((bytes + (1 << 19)) >> 20, " MiB");
}

// An argument as a shell would need it to come back as one word.
std::string ShellWord(const std::string& arg) {
  if (!arg.empty() && arg.find_first_of(" \t\"'\\$`") == std::string::npos) return arg;
  std::string out = "'";
  for (char c : arg) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out.push_back(c);
    }
  }
  return out + "'";
}

}  // namespace

const std::vector<KindInfo>& Kinds() {
  static const auto* kinds = new std::vector<KindInfo>{
      {Change::SERVER, "server", "servers", ""},
      {Change::NAMESPACE, "namespace", "namespaces", ""},
      {Change::ENDPOINT, "endpoint", "endpoints", ""},
      {Change::USER, "user", "users", ""},
      {Change::TOOL_OVERRIDE, "tooloverride", "tooloverrides", "tool-override"},
      {Change::API_KEY, "apikey", "apikeys", "api-key"}};
  return *kinds;
}

const KindInfo* FindKind(std::string_view word) {
  for (const KindInfo& k : Kinds()) {
    std::string alias_plural = StrCat(k.alias, "s");
    if (word == k.singular || word == k.plural || (*k.alias != '\0' && word == k.alias) ||
        (*k.alias != '\0' && word == alias_plural)) {
      return &k;
    }
  }
  return nullptr;
}

std::string KindList() {
  std::vector<std::string> names;
  for (const KindInfo& k : Kinds()) names.push_back(k.plural);
  return Join(names, ", ");
}

std::string KindName(Change::Kind kind) {
  for (const KindInfo& k : Kinds()) {
    if (k.kind == kind) return k.singular;
  }
  return "object";
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(widths[i] - row[i].size() + 3, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string FormatApplyDiff(const registry::v1::ApplyResponse& response, bool dry_run) {
  using registry::v1::ObjectDiff;
  int added = 0, changed = 0, removed = 0, unchanged = 0;
  std::string out;
  auto shown = [](const std::string& value) { return value.empty() ? "(none)" : value; };
  for (const ObjectDiff& d : response.diff()) {
    std::string object = StrCat(KindName(d.kind()), "/", d.name());
    switch (d.action()) {
      case ObjectDiff::ADDED:
        ++added;
        out += StrCat("+ ", object, " (added)\n");
        break;
      case ObjectDiff::CHANGED:
        ++changed;
        out += StrCat("~ ", object, " (changed)\n");
        for (const auto& f : d.fields()) {
          out += StrCat("    ", f.field(), ": ", shown(f.before()), " -> ", shown(f.after()),
                        f.secret() ? " (secret)" : "", "\n");
        }
        break;
      case ObjectDiff::REMOVED:
        ++removed;
        out += StrCat("- ", object, " (removed)\n");
        break;
      default:
        ++unchanged;
        out += StrCat("= ", object, " (unchanged)\n");
        break;
    }
  }
  out += StrCat(added, " added, ", changed, " changed, ", removed, " removed, ", unchanged,
                " unchanged", dry_run ? " (dry run: nothing written)" : "", "\n");
  return out;
}

std::string FormatServers(const registry::v1::ListServersResponse& response) {
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "TYPE", "TARGET", "SECRETS", "DESCRIPTION"}};
  for (const auto& s : response.servers()) {
    std::string target;
    std::vector<std::string> secrets;
    if (s.type() == "STDIO") {
      std::vector<std::string> argv = {ShellWord(s.command())};
      for (const auto& a : s.args()) argv.push_back(ShellWord(a));
      target = Join(argv, " ");
      for (const auto& k : SortedKeys(s.env())) secrets.push_back("env:" + k);
    } else {
      target = s.url();
      if (!s.bearer_token().empty()) secrets.push_back("bearerToken");
      for (const auto& k : SortedKeys(s.headers())) secrets.push_back("header:" + k);
    }
    rows.push_back(
        {s.name(), s.type(), OrDash(target), OrDash(Join(secrets, ",")), OrDash(s.description())});
  }
  return FormatTable(rows);
}

std::string FormatNamespaces(const registry::v1::ListNamespacesResponse& response) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "SERVERS", "PREFIX", "DESCRIPTION"}};
  for (const auto& n : response.namespaces()) {
    std::vector<std::string> members;
    for (const auto& m : n.servers()) {
      members.push_back(m.disabled() ? m.server() + " (disabled)" : m.server());
    }
    rows.push_back({n.name(), OrDash(Join(members, ", ")), n.disable_prefix() ? "off" : "on",
                    OrDash(n.description())});
  }
  return FormatTable(rows);
}

std::string FormatEndpoints(const registry::v1::ListEndpointsResponse& response) {
  std::vector<std::vector<std::string>> rows = {
      {"NAME", "NAMESPACE", "PATH", "AUTH", "DESCRIPTION"}};
  for (const auto& e : response.endpoints()) {
    std::vector<std::string> auth;
    if (e.enable_api_key_auth()) auth.push_back("api-key");
    if (e.use_query_param_auth()) auth.push_back("query-param");
    if (e.enable_oauth()) auth.push_back("oauth");
    rows.push_back({e.name(), e.namespace_(), StrCat("/metamcp/", e.name(), "/mcp"),
                    auth.empty() ? "none" : Join(auth, ","), OrDash(e.description())});
  }
  return FormatTable(rows);
}

std::string FormatUsers(const registry::v1::ListUsersResponse& response) {
  std::vector<std::vector<std::string>> rows = {{"EMAIL", "NAME", "ADMIN"}};
  for (const auto& u : response.users()) {
    rows.push_back({u.email(), OrDash(u.name()), u.is_admin() ? "yes" : "no"});
  }
  return FormatTable(rows);
}

std::string FormatApiKeys(const registry::v1::ListApiKeysResponse& response) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "USER", "NAME", "PREFIX", "EXPIRES", "ENDPOINTS", "LAST USED"}};
  for (const auto& k : response.api_keys()) {
    std::vector<std::string> endpoints(k.endpoints().begin(), k.endpoints().end());
    rows.push_back({k.id(), k.user_email(), OrDash(k.name()), OrDash(k.prefix()),
                    k.expires_unix() == 0 ? "never" : FormatUtc(k.expires_unix()),
                    endpoints.empty() ? "all" : Join(endpoints, ","),
                    k.last_used_unix() == 0 ? "never" : FormatUtc(k.last_used_unix())});
  }
  return FormatTable(rows);
}

std::string FormatSessions(const registry::v1::ListSessionsResponse& response) {
  std::vector<std::vector<std::string>> rows = {
      {"ID", "ENDPOINT", "PROTOCOL", "TRANSPORT", "CREATED", "EXPIRES IN"}};
  for (const registry::v1::Session& s : response.sessions()) {
    rows.push_back({s.id(), s.endpoint(), OrDash(s.protocol_version()),
                    s.transport().empty() ? "streamable-http" : s.transport(),
                    s.created_unix() == 0 ? "-" : FormatUtc(s.created_unix()),
                    StrCat(s.expires_in_seconds(), "s")});
  }
  return FormatTable(rows);
}

std::string FormatToolCalls(const registry::v1::ListToolCallsResponse& response) {
  std::vector<std::vector<std::string>> rows = {
      {"TIME", "USER", "ENDPOINT", "TOOL", "OUTCOME", "DURATION"}};
  for (const registry::v1::ToolCall& c : response.calls()) {
    rows.push_back({FormatUtc(c.at_unix_ms() / 1000), OrDash(c.user_email()), c.endpoint(),
                    c.tool(), c.outcome(), StrCat(c.duration_ms(), "ms")});
  }
  return FormatTable(rows);
}

std::string FormatProcesses(const runner::v1::ListProcessesResponse& response) {
  std::vector<std::vector<std::string>> rows = {{"SERVER", "PID", "STATE", "KEY", "UPTIME",
                                                 "CALLERS", "SESSIONS", "IN-FLIGHT", "QUEUED",
                                                 "RESTARTS", "RSS", "LAST FAILURE"}};
  for (const auto& p : response.processes()) {
    rows.push_back({p.server(), p.pid() > 0 ? std::to_string(p.pid()) : "-", p.state(),
                    OrDash(p.key()), p.pid() > 0 ? Uptime(p.uptime_ms()) : "-",
                    std::to_string(p.attachments()), std::to_string(p.sessions_size()),
                    std::to_string(p.in_flight()), std::to_string(p.queue_depth()),
                    std::to_string(p.restarts()), Mebibytes(p.rss_bytes()),
                    OrDash(p.last_failure())});
  }
  return FormatTable(rows);
}

std::string FormatToolOverrides(const registry::v1::ListToolOverridesResponse& response) {
  std::vector<std::vector<std::string>> rows = {{"NAMESPACE", "SERVER", "TOOL", "NAME", "STATE"}};
  for (const auto& o : response.tool_overrides()) {
    rows.push_back({o.namespace_(), o.server(), o.tool(), OrDash(o.name()),
                    o.disabled() ? "disabled" : "enabled"});
  }
  return FormatTable(rows);
}

}  // namespace switchboard::sbctl
