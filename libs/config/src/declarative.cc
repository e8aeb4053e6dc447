#include "switchboard/config/declarative.h"

#include "switchboard/common/strings.h"
#include <yaml-cpp/yaml.h>

#include <boost/json.hpp>
#include <limits>
#include <optional>
#include <set>

#include "switchboard/common/status.h"

namespace switchboard::config {
namespace {

using registry::v1::ApplyRequest;

absl::Status FieldError(std::string_view path, std::string_view what) {
  return absl::InvalidArgumentError(StrCat(path, ": ", what));
}

// Reads a scalar string; absent is "" when optional.
absl::Status ReadString(const YAML::Node& node, std::string_view path, std::string* out) {
  if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
  if (!node.IsScalar()) return FieldError(path, "expected a string");
  *out = node.Scalar();
  return absl::OkStatus();
}

absl::Status ReadBool(const YAML::Node& node, std::string_view path, bool* out) {
  if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
  if (!node.IsScalar()) return FieldError(path, "expected true or false");
  const std::string& s = node.Scalar();
  if (s == "true" || s == "True" || s == "yes") {
    *out = true;
  } else if (s == "false" || s == "False" || s == "no") {
    *out = false;
  } else {
    return FieldError(path, StrCat("expected true or false, got '", s, "'"));
  }
  return absl::OkStatus();
}

// Reads a whole number that fits T (int32_t or int64_t); absent leaves `out` as it is.
template <typename T>
absl::Status ReadInt(const YAML::Node& node, std::string_view path, T* out) {
  if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
  if (!node.IsScalar()) return FieldError(path, "expected a whole number");
  const std::string& s = node.Scalar();
  size_t used = 0;
  long long value = 0;
  try {
    value = std::stoll(s, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != s.size() || value < std::numeric_limits<T>::min() ||
      value > std::numeric_limits<T>::max()) {
    return FieldError(path, StrCat("expected a whole number, got '", s, "'"));
  }
  *out = static_cast<T>(value);
  return absl::OkStatus();
}

absl::Status ReadStringList(const YAML::Node& node, std::string_view path,
                            google::protobuf::RepeatedPtrField<std::string>* out) {
  if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
  if (!node.IsSequence()) return FieldError(path, "expected a list of strings");
  for (size_t i = 0; i < node.size(); ++i) {
    if (!node[i].IsScalar()) {
      return FieldError(StrCat(path, "[", i, "]"), "expected a string");
    }
    out->Add(std::string(node[i].Scalar()));
  }
  return absl::OkStatus();
}

absl::Status ReadStringMap(const YAML::Node& node, std::string_view path,
                           google::protobuf::Map<std::string, std::string>* out) {
  if (!node.IsDefined() || node.IsNull()) return absl::OkStatus();
  if (!node.IsMap()) return FieldError(path, "expected a mapping of names to strings");
  for (const auto& kv : node) {
    std::string key = kv.first.Scalar();
    if (!kv.second.IsScalar()) {
      return FieldError(StrCat(path, ".", key), "expected a string");
    }
    (*out)[key] = kv.second.Scalar();
  }
  return absl::OkStatus();
}

// Rejects keys a mapping may not have, so a typo is caught instead of ignored.
absl::Status CheckKeys(const YAML::Node& node, std::string_view path,
                       std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : node) {
    std::string key = kv.first.Scalar();
    bool ok = false;
    for (std::string_view a : allowed) ok = ok || a == key;
    if (!ok) return FieldError(StrCat(path, ".", key), "unknown field");
  }
  return absl::OkStatus();
}


// Replaces every ${VAR} in `text` (the value at `path`) by the variable's value; "$${" stands
// for a literal "${".
absl::StatusOr<std::string> ExpandReferences(const std::string& text, std::string_view path,
                                             const EnvLookup& lookup) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text.compare(i, 3, "$${") == 0) {
      out += "${";
      i += 3;
      continue;
    }
    if (text.compare(i, 2, "${") != 0) {
      out.push_back(text[i++]);
      continue;
    }
    size_t end = text.find('}', i + 2);
    if (end == std::string::npos) {
      return FieldError(path, "'${' without a closing '}' (write '$${' for a literal '${')");
    }
    std::string name = text.substr(i + 2, end - i - 2);
    bool valid = !name.empty() && !(name[0] >= '0' && name[0] <= '9');
    for (char c : name) {
      valid = valid && ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                        (c >= '0' && c <= '9') || c == '_');
    }
    if (!valid) {
      return FieldError(path, StrCat("'${", name, "}' is not a variable reference: use ${NAME} "
                                     "with letters, digits and '_' (or '$${' for a literal '${')"));
    }
    std::optional<std::string> value = lookup(name);
    if (!value) return FieldError(path, StrCat("environment variable ", name, " is not set"));
    out += *value;
    i = end + 1;
  }
  return out;
}

// Expands references in every scalar value below `node` (keys stay as written).
absl::Status ExpandTree(YAML::Node node, const std::string& path, const EnvLookup& lookup) {
  if (node.IsScalar()) {
    const std::string& text = node.Scalar();
    if (text.find("${") == std::string::npos) return absl::OkStatus();
    SB_ASSIGN_OR_RETURN(std::string expanded, ExpandReferences(text, path, lookup));
    node = expanded;
    return absl::OkStatus();
  }
  if (node.IsSequence()) {
    for (size_t i = 0; i < node.size(); ++i) {
      SB_RETURN_IF_ERROR(ExpandTree(node[i], StrCat(path, "[", i, "]"), lookup));
    }
  } else if (node.IsMap()) {
    for (auto kv : node) {
      std::string key = kv.first.Scalar();
      SB_RETURN_IF_ERROR(ExpandTree(kv.second, path.empty() ? key : StrCat(path, ".", key), lookup));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseServer(const YAML::Node& node, const std::string& path,
                         registry::v1::Server* server) {
  if (!node.IsMap()) return FieldError(path, "expected a mapping");
  SB_RETURN_IF_ERROR(CheckKeys(node, path,
                               {"name", "type", "description", "command", "args", "env", "url",
                                "bearerToken", "headers", "isolation", "minProcesses",
                                "maxProcesses", "maxInFlightPerProcess", "queueSize",
                                "queueTimeoutMs", "idleTimeoutMs", "requestTimeoutMs", "cwd",
                                "limitAddressSpaceMb", "limitCpuSeconds", "limitOpenFiles",
                                "limitProcesses"}));
  SB_RETURN_IF_ERROR(ReadString(node["name"], path + ".name", server->mutable_name()));
  SB_RETURN_IF_ERROR(ReadString(node["type"], path + ".type", server->mutable_type()));
  SB_RETURN_IF_ERROR(
      ReadString(node["description"], path + ".description", server->mutable_description()));
  SB_RETURN_IF_ERROR(ReadString(node["command"], path + ".command", server->mutable_command()));
  SB_RETURN_IF_ERROR(ReadStringList(node["args"], path + ".args", server->mutable_args()));
  SB_RETURN_IF_ERROR(ReadStringMap(node["env"], path + ".env", server->mutable_env()));
  SB_RETURN_IF_ERROR(ReadString(node["url"], path + ".url", server->mutable_url()));
  SB_RETURN_IF_ERROR(
      ReadString(node["bearerToken"], path + ".bearerToken", server->mutable_bearer_token()));
  SB_RETURN_IF_ERROR(ReadStringMap(node["headers"], path + ".headers", server->mutable_headers()));
  // The runner's process pool (STDIO).
  SB_RETURN_IF_ERROR(
      ReadString(node["isolation"], path + ".isolation", server->mutable_isolation()));
  if (server->isolation() == "shared") server->clear_isolation();  // "" is the default's spelling
  struct IntKey {
    const char* key;
    void (registry::v1::Server::*set)(int32_t);
  };
  for (const IntKey& k : {IntKey{"minProcesses", &registry::v1::Server::set_min_processes},
                          IntKey{"maxProcesses", &registry::v1::Server::set_max_processes},
                          IntKey{"maxInFlightPerProcess",
                                 &registry::v1::Server::set_max_in_flight_per_process},
                          IntKey{"queueSize", &registry::v1::Server::set_queue_size},
                          IntKey{"queueTimeoutMs", &registry::v1::Server::set_queue_timeout_ms},
                          IntKey{"idleTimeoutMs", &registry::v1::Server::set_idle_timeout_ms},
                          IntKey{"requestTimeoutMs",
                                 &registry::v1::Server::set_request_timeout_ms}}) {
    int32_t value = 0;
    SB_RETURN_IF_ERROR(ReadInt(node[k.key], StrCat(path, ".", k.key), &value));
    (server->*k.set)(value);
  }
  struct Int64Key {
    const char* key;
    void (registry::v1::Server::*set)(int64_t);
  };
  for (const Int64Key& k :
       {Int64Key{"limitAddressSpaceMb", &registry::v1::Server::set_limit_address_space_mb},
        Int64Key{"limitCpuSeconds", &registry::v1::Server::set_limit_cpu_seconds},
        Int64Key{"limitOpenFiles", &registry::v1::Server::set_limit_open_files},
        Int64Key{"limitProcesses", &registry::v1::Server::set_limit_processes}}) {
    int64_t value = 0;
    SB_RETURN_IF_ERROR(ReadInt(node[k.key], StrCat(path, ".", k.key), &value));
    (server->*k.set)(value);
  }
  SB_RETURN_IF_ERROR(ReadString(node["cwd"], path + ".cwd", server->mutable_cwd()));
  if (server->type().empty()) {
    server->set_type(server->url().empty() ? "STDIO" : "STREAMABLE_HTTP");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateName(std::string_view name) {
  if (name.empty()) return absl::InvalidArgumentError("required");
  if (name.size() > 64) return absl::InvalidArgumentError("at most 64 characters");
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) {
      return absl::InvalidArgumentError(
          StrCat("'", name, "' may only use letters, digits, '_' and '-'"));
    }
  }
  if (name.find("__") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat("'", name, "' may not contain '__' (the tool prefix separator)"));
  }
  return absl::OkStatus();
}

absl::Status ValidateServer(const registry::v1::Server& s, std::string_view path) {
  absl::Status name = ValidateName(s.name());
  if (!name.ok()) return FieldError(StrCat(path, ".name"), MessageOf(name));
  if (s.type() == "STDIO") {
    if (s.command().empty()) return FieldError(StrCat(path, ".command"), "required for type STDIO");
    if (!s.url().empty()) return FieldError(StrCat(path, ".url"), "not allowed for type STDIO");
  } else if (s.type() == "SSE" || s.type() == "STREAMABLE_HTTP") {
    if (s.url().empty()) return FieldError(StrCat(path, ".url"), "required for type " + s.type());
    if (s.url().rfind("http://", 0) != 0 && s.url().rfind("https://", 0) != 0) {
      return FieldError(StrCat(path, ".url"), "must start with http:// or https://");
    }
    if (!s.command().empty()) {
      return FieldError(StrCat(path, ".command"), "only allowed for type STDIO");
    }
  } else {
    return FieldError(StrCat(path, ".type"),
                      StrCat("must be one of STDIO, SSE, STREAMABLE_HTTP, got '", s.type(), "'"));
  }
  return ValidateServerPool(s, path);
}

absl::Status ValidateServerPool(const registry::v1::Server& s, std::string_view path) {
  const bool stdio = s.type() == "STDIO";
  auto field = [&](std::string_view key) { return StrCat(path, ".", key); };
  if (!s.isolation().empty() && s.isolation() != "shared" && s.isolation() != "per-user" &&
      s.isolation() != "per-session") {
    return FieldError(field("isolation"),
                      StrCat("must be one of shared, per-user, per-session, got '", s.isolation(),
                             "'"));
  }
  struct Limit {
    std::string_view key;
    int64_t value;
    int64_t max;
  };
  constexpr int64_t kDay = int64_t{24} * 3600 * 1000;
  const Limit limits[] = {
      {"minProcesses", s.min_processes(), 10000},
      {"maxProcesses", s.max_processes(), 10000},
      {"maxInFlightPerProcess", s.max_in_flight_per_process(), 100000},
      {"queueSize", s.queue_size(), 1000000},
      {"queueTimeoutMs", s.queue_timeout_ms(), kDay},
      {"idleTimeoutMs", s.idle_timeout_ms(), kDay},
      {"requestTimeoutMs", s.request_timeout_ms(), kDay},
      {"limitAddressSpaceMb", s.limit_address_space_mb(), int64_t{1} << 30},
      {"limitCpuSeconds", s.limit_cpu_seconds(), int64_t{1} << 40},
      {"limitOpenFiles", s.limit_open_files(), int64_t{1} << 30},
      {"limitProcesses", s.limit_processes(), int64_t{1} << 30},
  };
  bool any_set = !s.isolation().empty() || !s.cwd().empty();
  for (const Limit& l : limits) {
    if (l.value < 0 || l.value > l.max) {
      return FieldError(field(l.key), StrCat("must be between 0 (the runner's default) and ",
                                             l.max, ", got ", l.value));
    }
    any_set = any_set || l.value != 0;
  }
  if (any_set && !stdio) {
    return FieldError(path, "process pool settings (isolation, minProcesses, ..., cwd, limit*) "
                            "are only allowed for type STDIO");
  }
  if (s.max_processes() > 0 && s.min_processes() > s.max_processes()) {
    return FieldError(field("minProcesses"), StrCat("must not exceed maxProcesses (",
                                                    s.max_processes(), "), got ",
                                                    s.min_processes()));
  }
  if (s.min_processes() > 0 && !s.isolation().empty() && s.isolation() != "shared") {
    return FieldError(field("minProcesses"),
                      "only applies to isolation shared (per-user and per-session processes "
                      "start on first use)");
  }
  if (!s.cwd().empty()) {
    if (s.cwd().front() != '/') return FieldError(field("cwd"), "must be an absolute path");
    if (s.cwd().find('\0') != std::string::npos || s.cwd().size() > 4096) {
      return FieldError(field("cwd"), "must be a path of at most 4096 bytes without NUL");
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateNamespace(const registry::v1::Namespace& ns, std::string_view path,
                               const NameExists& server_exists) {
  absl::Status name = ValidateName(ns.name());
  if (!name.ok()) return FieldError(StrCat(path, ".name"), MessageOf(name));
  std::set<std::string> members;
  for (int j = 0; j < ns.servers_size(); ++j) {
    std::string spath = StrCat(path, ".servers[", j, "]");
    const std::string& server = ns.servers(j).server();
    if (!server_exists(server)) return FieldError(spath, StrCat("unknown server '", server, "'"));
    if (!members.insert(server).second) {
      return FieldError(spath, StrCat("server '", server, "' listed twice"));
    }
  }
  if (ns.disable_prefix() && ns.servers_size() > 1) {
    return FieldError(StrCat(path, ".prefix"), "can only be turned off with a single server");
  }
  return absl::OkStatus();
}

namespace {

// "*" or scheme://host[:port], as browsers send in the Origin header.
bool IsOrigin(std::string_view origin) {
  if (origin == "*") return true;
  size_t scheme_end = origin.find("://");
  if (scheme_end == std::string_view::npos) return false;
  std::string_view scheme = origin.substr(0, scheme_end);
  if (scheme != "http" && scheme != "https") return false;
  std::string_view host = origin.substr(scheme_end + 3);
  if (host.empty()) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    if (!ok) return false;
  }
  return true;
}

// MCP's tool name rule: 1-128 of [A-Za-z0-9_.-].
bool IsToolName(std::string_view name) {
  if (name.empty() || name.size() > kMaxToolNameLength) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

// An absolute http(s) URL with a host and no spaces or fragment. Plain http only when
// the host is a loopback one (a test's local server): keys and issuers
// travel over TLS everywhere else.
absl::Status CheckHttpsUrl(std::string_view url) {
  std::string_view rest;
  bool plain = false;
  if (url.rfind("https://", 0) == 0) {
    rest = url.substr(8);
  } else if (url.rfind("http://", 0) == 0) {
    rest = url.substr(7);
    plain = true;
  } else {
    return absl::InvalidArgumentError(StrCat("'", url, "' must be an https:// URL"));
  }
  std::string_view host = rest.substr(0, rest.find_first_of("/?#"));
  if (host.empty() || host.front() == ':' || host.find('@') != std::string_view::npos) {
    return absl::InvalidArgumentError(StrCat("'", url, "' has no host"));
  }
  for (char c : url) {
    if (static_cast<unsigned char>(c) <= 0x20 || c == '"' || c == '#' || c == 0x7f) {
      return absl::InvalidArgumentError(
          StrCat("'", url, "' may not hold spaces, quotes, control characters or a fragment"));
    }
  }
  if (plain) {
    std::string_view name = host.substr(0, host.rfind(':'));
    if (host.front() == '[') name = host.substr(0, host.find(']') + 1);
    if (name != "127.0.0.1" && name != "localhost" && name != "[::1]") {
      return absl::InvalidArgumentError(
          StrCat("'", url, "' must be an https:// URL (http:// only on loopback)"));
    }
  }
  return absl::OkStatus();
}

// An OAuth scope-token (RFC 6749 section 3.3): visible ASCII but '"' and '\\'.
bool IsScopeToken(std::string_view scope) {
  if (scope.empty() || scope.size() > 256) return false;
  for (char c : scope) {
    if (c < 0x21 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

absl::Status ValidateOauth(const registry::v1::Endpoint& ep, std::string_view path) {
  for (int i = 0; i < ep.oauth_issuers_size(); ++i) {
    absl::Status url = CheckHttpsUrl(ep.oauth_issuers(i));
    if (!url.ok()) return FieldError(StrCat(path, ".oauth_issuers[", i, "]"), MessageOf(url));
  }
  if (!ep.oauth_jwks_url().empty()) {
    absl::Status url = CheckHttpsUrl(ep.oauth_jwks_url());
    if (!url.ok()) return FieldError(StrCat(path, ".oauth_jwks_url"), MessageOf(url));
  }
  for (int i = 0; i < ep.oauth_required_scopes_size(); ++i) {
    if (!IsScopeToken(ep.oauth_required_scopes(i))) {
      return FieldError(StrCat(path, ".oauth_required_scopes[", i, "]"),
                        StrCat("'", ep.oauth_required_scopes(i),
                               "' is not a scope: 1-256 visible ASCII characters but '\"' and "
                               "'\\'"));
    }
  }
  if (!ep.oauth_audience().empty() && !IsScopeToken(ep.oauth_audience())) {
    return FieldError(StrCat(path, ".oauth_audience"),
                      "must be 1-256 visible ASCII characters but '\"' and '\\'");
  }
  if (ep.enable_oauth()) {
    if (ep.oauth_issuers_size() == 0) {
      return FieldError(StrCat(path, ".oauth_issuers"),
                        "required when enable_oauth is set: the authorization servers whose "
                        "tokens the endpoint accepts");
    }
    if (ep.oauth_jwks_url().empty()) {
      return FieldError(StrCat(path, ".oauth_jwks_url"),
                        "required when enable_oauth is set: where the issuers' signing keys are");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidateEndpoint(const registry::v1::Endpoint& ep, std::string_view path,
                              const NameExists& namespace_exists) {
  absl::Status name = ValidateName(ep.name());
  if (!name.ok()) return FieldError(StrCat(path, ".name"), MessageOf(name));
  if (ep.namespace_().empty()) return FieldError(StrCat(path, ".namespace"), "required");
  if (!namespace_exists(ep.namespace_())) {
    return FieldError(StrCat(path, ".namespace"),
                      StrCat("unknown namespace '", ep.namespace_(), "'"));
  }
  if (ep.user_requests_per_minute() < 0) {
    return FieldError(StrCat(path, ".user_requests_per_minute"), "must be 0 (unlimited) or more");
  }
  if (ep.requests_per_minute() < 0) {
    return FieldError(StrCat(path, ".requests_per_minute"), "must be 0 (unlimited) or more");
  }
  for (int i = 0; i < ep.allowed_origins_size(); ++i) {
    if (!IsOrigin(ep.allowed_origins(i))) {
      return FieldError(StrCat(path, ".allowed_origins[", i, "]"),
                        StrCat("'", ep.allowed_origins(i),
                               "' is not an origin: use \"*\" or scheme://host[:port] (no path)"));
    }
  }
  return ValidateOauth(ep, path);
}

absl::Status ValidateUser(const registry::v1::User& user, std::string_view path) {
  std::string field = StrCat(path, ".email");
  const std::string& email = user.email();
  if (email.empty()) return FieldError(field, "required");
  size_t at = email.find('@');
  if (at == std::string::npos || at == 0 || at + 1 == email.size()) {
    return FieldError(field, StrCat("'", email, "' is not an email address"));
  }
  return absl::OkStatus();
}

absl::Status ValidateToolOverride(const registry::v1::ToolOverride& o, std::string_view path,
                                  const FindNamespace& find_namespace) {
  if (o.namespace_().empty()) return FieldError(StrCat(path, ".namespace"), "required");
  const registry::v1::Namespace* ns = find_namespace(o.namespace_());
  if (ns == nullptr) {
    return FieldError(StrCat(path, ".namespace"),
                      StrCat("unknown namespace '", o.namespace_(), "'"));
  }
  if (o.server().empty()) return FieldError(StrCat(path, ".server"), "required");
  bool member = false;
  for (const auto& m : ns->servers()) member = member || m.server() == o.server();
  if (!member) {
    return FieldError(
        StrCat(path, ".server"),
        StrCat("server '", o.server(), "' is not in namespace '", o.namespace_(), "'"));
  }
  if (o.tool().empty()) return FieldError(StrCat(path, ".tool"), "required");
  if (o.tool().size() > kMaxToolNameLength) {
    return FieldError(StrCat(path, ".tool"), StrCat("at most ", kMaxToolNameLength, " characters"));
  }
  for (char c : o.tool()) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '/') {
      return FieldError(StrCat(path, ".tool"), "may not contain '/' or control characters");
    }
  }
  if (!o.name().empty() && !IsToolName(o.name())) {
    return FieldError(StrCat(path, ".name"),
                      StrCat("'", o.name(), "' is not a tool name: 1-", kMaxToolNameLength,
                             " of letters, digits, '_', '-' and '.'"));
  }
  if (!o.annotations().empty()) {
    boost::system::error_code ec;
    boost::json::value v = boost::json::parse(o.annotations(), ec);
    if (ec || !v.is_object()) {
      return FieldError(StrCat(path, ".annotations"), "must be a JSON object");
    }
  }
  if (o.user_requests_per_minute() < 0) {
    return FieldError(StrCat(path, ".user_requests_per_minute"), "must be 0 (unlimited) or more");
  }
  return absl::OkStatus();
}

absl::Status ValidateApply(const ApplyRequest& req) {
  std::set<std::string> servers;
  for (int i = 0; i < req.servers_size(); ++i) {
    std::string path = StrCat("servers[", i, "]");
    SB_RETURN_IF_ERROR(ValidateServer(req.servers(i), path));
    if (!servers.insert(req.servers(i).name()).second) {
      return FieldError(path + ".name", StrCat("duplicate server '", req.servers(i).name(), "'"));
    }
  }
  auto in = [](const std::set<std::string>& names) {
    return [&names](const std::string& name) { return names.count(name) > 0; };
  };
  std::set<std::string> namespaces;
  for (int i = 0; i < req.namespaces_size(); ++i) {
    const auto& ns = req.namespaces(i);
    std::string path = StrCat("namespaces[", i, "]");
    absl::Status st = ValidateName(ns.name());
    if (!st.ok()) return FieldError(path + ".name", MessageOf(st));
    if (!namespaces.insert(ns.name()).second) {
      return FieldError(path + ".name", StrCat("duplicate namespace '", ns.name(), "'"));
    }
    SB_RETURN_IF_ERROR(ValidateNamespace(ns, path, in(servers)));
  }
  std::set<std::string> endpoints;
  for (int i = 0; i < req.endpoints_size(); ++i) {
    const auto& ep = req.endpoints(i);
    std::string path = StrCat("endpoints[", i, "]");
    absl::Status st = ValidateName(ep.name());
    if (!st.ok()) return FieldError(path + ".name", MessageOf(st));
    if (!endpoints.insert(ep.name()).second) {
      return FieldError(path + ".name", StrCat("duplicate endpoint '", ep.name(), "'"));
    }
    SB_RETURN_IF_ERROR(ValidateEndpoint(ep, path, in(namespaces)));
  }
  std::set<std::string> users;
  for (int i = 0; i < req.users_size(); ++i) {
    std::string path = StrCat("users[", i, "]");
    SB_RETURN_IF_ERROR(ValidateUser(req.users(i), path));
    if (!users.insert(req.users(i).email()).second) {
      return FieldError(path + ".email", StrCat("duplicate user '", req.users(i).email(), "'"));
    }
  }
  auto find_namespace = [&req](const std::string& name) -> const registry::v1::Namespace* {
    for (const auto& ns : req.namespaces()) {
      if (ns.name() == name) return &ns;
    }
    return nullptr;
  };
  std::set<std::string> overrides;
  std::set<std::pair<std::string, std::string>> renames;  // (namespace, new name)
  for (int i = 0; i < req.tool_overrides_size(); ++i) {
    const auto& o = req.tool_overrides(i);
    std::string path = StrCat("toolOverrides[", i, "]");
    SB_RETURN_IF_ERROR(ValidateToolOverride(o, path, find_namespace));
    std::string key = StrCat(o.namespace_(), "/", o.server(), "/", o.tool());
    if (!overrides.insert(key).second) {
      return FieldError(path + ".tool", StrCat("duplicate tool override '", key, "'"));
    }
    if (!o.name().empty() && !renames.emplace(o.namespace_(), o.name()).second) {
      return FieldError(path + ".name", StrCat("'", o.name(),
                                               "' is already the new name of another tool in "
                                               "namespace '",
                                               o.namespace_(), "'"));
    }
  }
  if (!ApplyRequest::Mode_IsValid(req.mode())) {
    return FieldError("mode", StrCat("unknown mode ", static_cast<int>(req.mode())));
  }
  return absl::OkStatus();
}

absl::StatusOr<ApplyRequest> ParseDeclarative(std::string_view yaml_text,
                                              const EnvLookup& lookup_env) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml_text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        StrCat("line ", e.mark.line + 1, ": not valid YAML: ", e.msg));
  }
  if (!root.IsMap()) return absl::InvalidArgumentError("expected a mapping at the top level");
  if (root["provision"].IsDefined()) root = root["provision"];
  if (!root.IsMap()) return FieldError("provision", "expected a mapping");
  SB_RETURN_IF_ERROR(CheckKeys(root, "switchboard.yaml",
                               {"servers", "mcpServers", "namespaces", "endpoints", "users",
                                "toolOverrides", "enabled", "prune", "runOnUpgrade",
                                "updateExisting"}));
  if (lookup_env) SB_RETURN_IF_ERROR(ExpandTree(root, "", lookup_env));

  ApplyRequest req;
  const YAML::Node servers = root["servers"];
  if (servers.IsDefined() && !servers.IsNull()) {
    if (!servers.IsSequence()) return FieldError("servers", "expected a list");
    for (size_t i = 0; i < servers.size(); ++i) {
      SB_RETURN_IF_ERROR(ParseServer(servers[i], StrCat("servers[", i, "]"), req.add_servers()));
    }
  }
  const YAML::Node mcp = root["mcpServers"];
  if (mcp.IsDefined() && !mcp.IsNull()) {
    if (!mcp.IsMap()) return FieldError("mcpServers", "expected a mapping of names to servers");
    for (const auto& kv : mcp) {
      std::string name = kv.first.Scalar();
      std::string path = StrCat("mcpServers.", name);
      YAML::Node body = YAML::Clone(kv.second);
      if (!body.IsMap()) return FieldError(path, "expected a mapping");
      if (body["type"].IsDefined() && body["type"].IsScalar()) {
        // Claude Desktop / Cursor spell transports in lower case.
        std::string t = body["type"].Scalar();
        if (t == "stdio") body["type"] = "STDIO";
        if (t == "sse") body["type"] = "SSE";
        if (t == "http" || t == "streamable-http" || t == "streamableHttp") {
          body["type"] = "STREAMABLE_HTTP";
        }
      } else if (body["url"].IsDefined() && body["url"].IsScalar()) {
        // Without a type, a URL ending in /sse is the legacy HTTP+SSE transport.
        std::string url = body["url"].Scalar();
        url = url.substr(0, url.find_first_of("?#"));
        while (!url.empty() && url.back() == '/') url.pop_back();
        bool sse = url.size() >= 4 && url.compare(url.size() - 4, 4, "/sse") == 0;
        body["type"] = sse ? "SSE" : "STREAMABLE_HTTP";
      }
      // Settings of the client itself, not of the server.
      for (const char* client_only : {"disabled", "autoApprove", "alwaysAllow", "timeout"}) {
        body.remove(client_only);
      }
      body["name"] = name;
      SB_RETURN_IF_ERROR(ParseServer(body, path, req.add_servers()));
    }
  }
  const YAML::Node namespaces = root["namespaces"];
  if (namespaces.IsDefined() && !namespaces.IsNull()) {
    if (!namespaces.IsSequence()) return FieldError("namespaces", "expected a list");
    for (size_t i = 0; i < namespaces.size(); ++i) {
      const YAML::Node n = namespaces[i];
      std::string path = StrCat("namespaces[", i, "]");
      if (!n.IsMap()) return FieldError(path, "expected a mapping");
      SB_RETURN_IF_ERROR(CheckKeys(n, path, {"name", "description", "servers", "prefix"}));
      auto* ns = req.add_namespaces();
      SB_RETURN_IF_ERROR(ReadString(n["name"], path + ".name", ns->mutable_name()));
      SB_RETURN_IF_ERROR(
          ReadString(n["description"], path + ".description", ns->mutable_description()));
      bool prefix = true;
      SB_RETURN_IF_ERROR(ReadBool(n["prefix"], path + ".prefix", &prefix));
      ns->set_disable_prefix(!prefix);
      const YAML::Node members = n["servers"];
      if (members.IsDefined() && !members.IsNull()) {
        if (!members.IsSequence()) return FieldError(path + ".servers", "expected a list");
        for (size_t j = 0; j < members.size(); ++j) {
          std::string mpath = StrCat(path, ".servers[", j, "]");
          auto* member = ns->add_servers();
          const YAML::Node m = members[j];
          if (m.IsScalar()) {
            member->set_server(m.Scalar());
          } else if (m.IsMap()) {
            SB_RETURN_IF_ERROR(CheckKeys(m, mpath, {"name", "active"}));
            SB_RETURN_IF_ERROR(ReadString(m["name"], mpath + ".name", member->mutable_server()));
            bool active = true;
            SB_RETURN_IF_ERROR(ReadBool(m["active"], mpath + ".active", &active));
            member->set_disabled(!active);
          } else {
            return FieldError(mpath, "expected a server name or {name, active}");
          }
        }
      }
    }
  }
  const YAML::Node endpoints = root["endpoints"];
  if (endpoints.IsDefined() && !endpoints.IsNull()) {
    if (!endpoints.IsSequence()) return FieldError("endpoints", "expected a list");
    for (size_t i = 0; i < endpoints.size(); ++i) {
      const YAML::Node e = endpoints[i];
      std::string path = StrCat("endpoints[", i, "]");
      if (!e.IsMap()) return FieldError(path, "expected a mapping");
      SB_RETURN_IF_ERROR(CheckKeys(e, path,
                                   {"name", "namespace", "description", "transport",
                                    "enableApiKeyAuth", "useQueryParamAuth", "enableOauth",
                                    "userRequestsPerMinute", "requestsPerMinute",
                                    "allowedOrigins", "oauthIssuers", "oauthJwksUrl",
                                    "oauthRequiredScopes", "oauthAudience"}));
      auto* ep = req.add_endpoints();
      SB_RETURN_IF_ERROR(ReadString(e["name"], path + ".name", ep->mutable_name()));
      SB_RETURN_IF_ERROR(ReadString(e["namespace"], path + ".namespace", ep->mutable_namespace_()));
      SB_RETURN_IF_ERROR(
          ReadString(e["description"], path + ".description", ep->mutable_description()));
      bool api_key = true;  // MetaMCP's default: endpoints require a key
      SB_RETURN_IF_ERROR(ReadBool(e["enableApiKeyAuth"], path + ".enableApiKeyAuth", &api_key));
      ep->set_enable_api_key_auth(api_key);
      bool query = false;
      SB_RETURN_IF_ERROR(ReadBool(e["useQueryParamAuth"], path + ".useQueryParamAuth", &query));
      ep->set_use_query_param_auth(query);
      bool oauth = false;
      SB_RETURN_IF_ERROR(ReadBool(e["enableOauth"], path + ".enableOauth", &oauth));
      ep->set_enable_oauth(oauth);
      int32_t limit = 0;
      SB_RETURN_IF_ERROR(
          ReadInt(e["userRequestsPerMinute"], path + ".userRequestsPerMinute", &limit));
      ep->set_user_requests_per_minute(limit);
      limit = 0;
      SB_RETURN_IF_ERROR(ReadInt(e["requestsPerMinute"], path + ".requestsPerMinute", &limit));
      ep->set_requests_per_minute(limit);
      SB_RETURN_IF_ERROR(ReadStringList(e["allowedOrigins"], path + ".allowedOrigins",
                                        ep->mutable_allowed_origins()));
      SB_RETURN_IF_ERROR(ReadStringList(e["oauthIssuers"], path + ".oauthIssuers",
                                        ep->mutable_oauth_issuers()));
      SB_RETURN_IF_ERROR(
          ReadString(e["oauthJwksUrl"], path + ".oauthJwksUrl", ep->mutable_oauth_jwks_url()));
      SB_RETURN_IF_ERROR(ReadStringList(e["oauthRequiredScopes"], path + ".oauthRequiredScopes",
                                        ep->mutable_oauth_required_scopes()));
      SB_RETURN_IF_ERROR(
          ReadString(e["oauthAudience"], path + ".oauthAudience", ep->mutable_oauth_audience()));
    }
  }
  const YAML::Node users = root["users"];
  if (users.IsDefined() && !users.IsNull()) {
    if (!users.IsSequence()) return FieldError("users", "expected a list");
    for (size_t i = 0; i < users.size(); ++i) {
      const YAML::Node u = users[i];
      std::string path = StrCat("users[", i, "]");
      if (!u.IsMap()) return FieldError(path, "expected a mapping");
      SB_RETURN_IF_ERROR(CheckKeys(u, path,
                                   {"email", "name", "isAdmin", "role", "password",
                                    "passwordFrom", "createApiKey", "apiKeyName"}));
      auto* user = req.add_users();
      SB_RETURN_IF_ERROR(ReadString(u["email"], path + ".email", user->mutable_email()));
      SB_RETURN_IF_ERROR(ReadString(u["name"], path + ".name", user->mutable_name()));
      bool admin = false;
      SB_RETURN_IF_ERROR(ReadBool(u["isAdmin"], path + ".isAdmin", &admin));
      // `role: admin | member` says the same as isAdmin (admins may define STDIO servers).
      std::string role;
      SB_RETURN_IF_ERROR(ReadString(u["role"], path + ".role", &role));
      if (!role.empty()) {
        if (role != "admin" && role != "member") {
          return FieldError(path + ".role", StrCat("must be admin or member, got '", role, "'"));
        }
        if (u["isAdmin"].IsDefined() && !u["isAdmin"].IsNull() && admin != (role == "admin")) {
          return FieldError(path + ".role", "contradicts isAdmin");
        }
        admin = role == "admin";
      }
      user->set_is_admin(admin);
    }
  }
  const YAML::Node overrides = root["toolOverrides"];
  if (overrides.IsDefined() && !overrides.IsNull()) {
    if (!overrides.IsSequence()) return FieldError("toolOverrides", "expected a list");
    for (size_t i = 0; i < overrides.size(); ++i) {
      const YAML::Node t = overrides[i];
      std::string path = StrCat("toolOverrides[", i, "]");
      if (!t.IsMap()) return FieldError(path, "expected a mapping");
      SB_RETURN_IF_ERROR(CheckKeys(t, path,
                                   {"namespace", "server", "tool", "name", "title", "description",
                                    "annotations", "disabled", "userRequestsPerMinute"}));
      auto* o = req.add_tool_overrides();
      SB_RETURN_IF_ERROR(ReadString(t["namespace"], path + ".namespace", o->mutable_namespace_()));
      SB_RETURN_IF_ERROR(ReadString(t["server"], path + ".server", o->mutable_server()));
      SB_RETURN_IF_ERROR(ReadString(t["tool"], path + ".tool", o->mutable_tool()));
      SB_RETURN_IF_ERROR(ReadString(t["name"], path + ".name", o->mutable_name()));
      SB_RETURN_IF_ERROR(ReadString(t["title"], path + ".title", o->mutable_title()));
      SB_RETURN_IF_ERROR(
          ReadString(t["description"], path + ".description", o->mutable_description()));
      SB_RETURN_IF_ERROR(
          ReadString(t["annotations"], path + ".annotations", o->mutable_annotations()));
      bool disabled = false;
      SB_RETURN_IF_ERROR(ReadBool(t["disabled"], path + ".disabled", &disabled));
      o->set_disabled(disabled);
      int32_t limit = 0;
      SB_RETURN_IF_ERROR(
          ReadInt(t["userRequestsPerMinute"], path + ".userRequestsPerMinute", &limit));
      o->set_user_requests_per_minute(limit);
    }
  }
  SB_RETURN_IF_ERROR(ValidateApply(req));
  return req;
}

}  // namespace switchboard::config
