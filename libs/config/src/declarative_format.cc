// The declarative form of a configuration: what `sbctl export` writes and `sbctl apply` reads.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <string>

#include "switchboard/config/declarative.h"

namespace switchboard::config {
namespace {

namespace v1 = registry::v1;

// A string as ParseDeclarative must see it to read it back unchanged: "${" becomes "$${".
boost::json::string Literal(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.compare(i, 2, "${") == 0) out += '$';
    out += text[i];
  }
  return boost::json::string(out);
}

boost::json::array LiteralList(const google::protobuf::RepeatedPtrField<std::string>& list) {
  boost::json::array out;
  for (const std::string& s : list) out.emplace_back(Literal(s));
  return out;
}

// Map entries in key order, so the same configuration always exports the same text.
boost::json::object LiteralMap(const google::protobuf::Map<std::string, std::string>& map) {
  std::vector<std::string> keys;
  for (const auto& [k, v] : map) keys.push_back(k);
  std::sort(keys.begin(), keys.end());
  boost::json::object out;
  for (const std::string& k : keys) out[k] = Literal(map.at(k));
  return out;
}

template <typename T>
void AddList(const char* key, const google::protobuf::RepeatedPtrField<T>& list,
             boost::json::object* doc) {
  if (list.empty()) return;
  boost::json::array items;
  for (const T& item : list) items.emplace_back(DeclarativeObject(item));
  (*doc)[key] = std::move(items);
}

// Whether YAML would read `s`, written plainly, as something other than this string.
bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const char* word : {"null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"}) {
    if (lower == word) return true;
  }
  if (std::isdigit(static_cast<unsigned char>(s[0])) || s[0] == '-' || s[0] == '+' ||
      s[0] == '.') {
    return true;  // numbers and number-like strings
  }
  return s.front() == ' ' || s.back() == ' ';
}

void Emit(const boost::json::value& v, YAML::Emitter& out) {
  switch (v.kind()) {
    case boost::json::kind::object:
      out << YAML::BeginMap;
      for (const auto& kv : v.get_object()) {
        out << YAML::Key << std::string(kv.key()) << YAML::Value;
        Emit(kv.value(), out);
      }
      out << YAML::EndMap;
      break;
    case boost::json::kind::array:
      out << YAML::BeginSeq;
      for (const auto& item : v.get_array()) Emit(item, out);
      out << YAML::EndSeq;
      break;
    case boost::json::kind::string: {
      std::string s(v.get_string());
      if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
      out << s;
      break;
    }
    case boost::json::kind::bool_:
      out << (v.get_bool() ? "true" : "false");
      break;
    case boost::json::kind::null:
      out << YAML::Null;
      break;
    default:
      out << boost::json::serialize(v);  // numbers
      break;
  }
}

}  // namespace

boost::json::object DeclarativeObject(const v1::Server& s) {
  boost::json::object o;
  o["name"] = Literal(s.name());
  o["type"] = Literal(s.type());
  o["description"] = Literal(s.description());
  // The fields of the server's transport always; the others only when set, so nothing stored
  // is lost.
  const bool stdio = s.type() == "STDIO";
  if (stdio || !s.command().empty()) o["command"] = Literal(s.command());
  if (stdio || !s.args().empty()) o["args"] = LiteralList(s.args());
  if (stdio || !s.env().empty()) o["env"] = LiteralMap(s.env());
  if (!stdio || !s.url().empty()) o["url"] = Literal(s.url());
  if (!stdio || !s.bearer_token().empty()) o["bearerToken"] = Literal(s.bearer_token());
  if (!stdio || !s.headers().empty()) o["headers"] = LiteralMap(s.headers());
  // Pool settings only when they differ from the runner's defaults (0 / "").
  if (!s.isolation().empty()) o["isolation"] = Literal(s.isolation());
  auto number = [&o](const char* key, int64_t value) {
    if (value != 0) o[key] = value;
  };
  number("minProcesses", s.min_processes());
  number("maxProcesses", s.max_processes());
  number("maxInFlightPerProcess", s.max_in_flight_per_process());
  number("queueSize", s.queue_size());
  number("queueTimeoutMs", s.queue_timeout_ms());
  number("idleTimeoutMs", s.idle_timeout_ms());
  number("requestTimeoutMs", s.request_timeout_ms());
  if (!s.cwd().empty()) o["cwd"] = Literal(s.cwd());
  number("limitAddressSpaceMb", s.limit_address_space_mb());
  number("limitCpuSeconds", s.limit_cpu_seconds());
  number("limitOpenFiles", s.limit_open_files());
  number("limitProcesses", s.limit_processes());
  return o;
}

boost::json::object DeclarativeObject(const v1::Namespace& ns) {
  boost::json::object o;
  o["name"] = Literal(ns.name());
  o["description"] = Literal(ns.description());
  boost::json::array members;
  for (const auto& m : ns.servers()) {
    if (m.disabled()) {
      members.emplace_back(boost::json::object{{"name", Literal(m.server())}, {"active", false}});
    } else {
      members.emplace_back(Literal(m.server()));
    }
  }
  o["servers"] = std::move(members);
  o["prefix"] = !ns.disable_prefix();
  return o;
}

boost::json::object DeclarativeObject(const v1::Endpoint& e) {
  boost::json::object o;
  o["name"] = Literal(e.name());
  o["namespace"] = Literal(e.namespace_());
  o["description"] = Literal(e.description());
  o["enableApiKeyAuth"] = e.enable_api_key_auth();
  o["useQueryParamAuth"] = e.use_query_param_auth();
  o["enableOauth"] = e.enable_oauth();
  o["userRequestsPerMinute"] = e.user_requests_per_minute();
  o["requestsPerMinute"] = e.requests_per_minute();
  o["allowedOrigins"] = LiteralList(e.allowed_origins());
  // The OAuth keys only when set, so that exports of endpoints without OAuth stay as they were.
  if (e.enable_oauth() || !e.oauth_issuers().empty() || !e.oauth_jwks_url().empty() ||
      !e.oauth_required_scopes().empty() || !e.oauth_audience().empty()) {
    o["oauthIssuers"] = LiteralList(e.oauth_issuers());
    o["oauthJwksUrl"] = Literal(e.oauth_jwks_url());
    o["oauthRequiredScopes"] = LiteralList(e.oauth_required_scopes());
    o["oauthAudience"] = Literal(e.oauth_audience());
  }
  return o;
}

boost::json::object DeclarativeObject(const v1::User& u) {
  boost::json::object o;
  o["email"] = Literal(u.email());
  o["name"] = Literal(u.name());
  o["isAdmin"] = u.is_admin();
  return o;
}

boost::json::object DeclarativeObject(const v1::ToolOverride& t) {
  boost::json::object o;
  o["namespace"] = Literal(t.namespace_());
  o["server"] = Literal(t.server());
  o["tool"] = Literal(t.tool());
  o["name"] = Literal(t.name());
  o["title"] = Literal(t.title());
  o["description"] = Literal(t.description());
  o["annotations"] = Literal(t.annotations());
  o["disabled"] = t.disabled();
  o["userRequestsPerMinute"] = t.user_requests_per_minute();
  return o;
}

boost::json::object DeclarativeDocument(const v1::ApplyRequest& config) {
  boost::json::object doc;
  AddList("servers", config.servers(), &doc);
  AddList("namespaces", config.namespaces(), &doc);
  AddList("endpoints", config.endpoints(), &doc);
  AddList("users", config.users(), &doc);
  AddList("toolOverrides", config.tool_overrides(), &doc);
  return doc;
}

std::string ToYaml(const boost::json::value& value) {
  YAML::Emitter out;
  Emit(value, out);
  std::string text = out.c_str();
  if (text.empty() || text.back() != '\n') text += '\n';
  return text;
}

}  // namespace switchboard::config
