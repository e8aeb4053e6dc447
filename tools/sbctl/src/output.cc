#include "tools/sbctl/src/output.h"

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

std::string KindName(Change::Kind kind) {
  switch (kind) {
    case Change::SERVER:
      return "server";
    case Change::NAMESPACE:
      return "namespace";
    case Change::ENDPOINT:
      return "endpoint";
    case Change::USER:
      return "user";
    case Change::API_KEY:
      return "apikey";
    default:
      return "object";
  }
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

std::string FormatApplyResult(const registry::v1::ApplyRequest& request,
                              const registry::v1::ApplyResponse& response) {
  std::set<std::pair<int, std::string>> changed;
  for (const Change& c : response.changes()) changed.emplace(c.kind(), c.name());
  std::string suffix = request.dry_run() ? " (dry run)" : "";
  std::string out;
  auto line = [&](Change::Kind kind, const std::string& name) {
    bool is_changed = changed.count({kind, name}) > 0;
    out +=
        StrCat(KindName(kind), "/", name, is_changed ? " configured" : " unchanged", suffix, "\n");
  };
  for (const auto& s : request.servers()) line(Change::SERVER, s.name());
  for (const auto& n : request.namespaces()) line(Change::NAMESPACE, n.name());
  for (const auto& e : request.endpoints()) line(Change::ENDPOINT, e.name());
  for (const auto& u : request.users()) line(Change::USER, u.email());
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

}  // namespace switchboard::sbctl
