#include "services/registry/src/pg_config_store.h"

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <pqxx/pqxx>

#include "services/registry/src/admin_validation.h"
#include "services/registry/src/postgres_url.h"
#include "services/registry/src/secrets.h"
#include "services/registry/src/snapshot_diff.h"
#include "services/registry/src/tool_names.h"
#include "switchboard/common/log.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"

namespace switchboard::registry {
namespace {

using v1::ApiKey;
using v1::ApplyRequest;
using v1::Change;
using v1::Snapshot;

// pg_advisory_(xact_)lock keys ("SWBDMIGR", "SWBDAPPL" as big-endian bytes).
constexpr int64_t kMigrationLockKey = 0x535742444d494752;
constexpr int64_t kWriteLockKey = 0x5357424441505050;

// Sends server notices (e.g. "relation already exists, skipping") to the debug log instead of
// libpq's default of printing them on stderr.
class NoticeLogger final : public pqxx::errorhandler {
 public:
  NoticeLogger(pqxx::connection_base& conn, std::string url)
      : pqxx::errorhandler(conn), url_(std::move(url)) {}
  bool operator()(const char msg[]) noexcept override {
    try {
      log::Debug("postgres notice", {{"notice", SanitizeDbError(msg, url_)}});
    } catch (...) {
    }
    return false;
  }

 private:
  std::string url_;
};

// Raises a flag when a revision notification arrives.
class RevisionReceiver final : public pqxx::notification_receiver {
 public:
  RevisionReceiver(pqxx::connection_base& conn, bool* flag)
      : pqxx::notification_receiver(conn, kConfigChannel), flag_(flag) {}
  void operator()(const std::string&, int) override { *flag_ = true; }

 private:
  bool* flag_;
};

// The first line of a server error, without libpq's "ERROR:  " prefix: the part that names
// the problem. Later lines (DETAIL) may quote row values, which can hold secrets.
std::string PrimaryMessage(std::string_view what) {
  std::string_view line = what.substr(0, what.find('\n'));
  for (std::string_view prefix : {"ERROR:  ", "FATAL:  "}) {
    if (line.substr(0, prefix.size()) == prefix) line.remove_prefix(prefix.size());
  }
  return std::string(line);
}

std::string EncodeList(const google::protobuf::RepeatedPtrField<std::string>& list) {
  boost::json::array a;
  for (const std::string& s : list) a.emplace_back(s);
  return boost::json::serialize(a);
}

std::string EncodeMap(const google::protobuf::Map<std::string, std::string>& map) {
  boost::json::object o;
  for (const auto& [k, v] : map) o[k] = v;
  return boost::json::serialize(o);
}

std::string JsonText(const boost::json::value& v) {
  if (v.is_string()) return std::string(v.get_string().data(), v.get_string().size());
  return boost::json::serialize(v);
}

void DecodeList(const std::string& text, google::protobuf::RepeatedPtrField<std::string>* out) {
  boost::json::value v = boost::json::parse(text);
  for (const boost::json::value& item : v.as_array()) out->Add(JsonText(item));
}

void DecodeMap(const std::string& text, google::protobuf::Map<std::string, std::string>* out) {
  boost::json::value v = boost::json::parse(text);
  for (const auto& kv : v.as_object()) {
    (*out)[std::string(kv.key().data(), kv.key().size())] = JsonText(kv.value());
  }
}

int64_t ReadRevision(pqxx::transaction_base& tx) {
  return tx.exec("SELECT revision FROM config_revision")[0][0].as<int64_t>();
}

template <typename T>
struct Versioned {
  T object;
  int64_t revision = 0;
};

// Runs `sql` (with `params` as $1, $2, ...).
pqxx::result Exec(pqxx::transaction_base& tx, const std::string& sql,
                  const std::vector<std::string>& params) {
  if (params.empty()) return tx.exec(sql);
  return tx.exec_params(sql, pqxx::prepare::make_dynamic_params(params));
}

// "WHERE column = $1" when `key` is set: a reader returns one object or every one.
std::string KeyWhere(const std::string* key, const char* column, std::vector<std::string>* params) {
  if (key == nullptr) return "";
  params->push_back(*key);
  return StrCat(" WHERE ", column, " = $1");
}

std::vector<Versioned<v1::Server>> ReadServers(pqxx::transaction_base& tx,
                                               const std::string* name) {
  std::vector<std::string> params;
  std::vector<Versioned<v1::Server>> out;
  for (const auto& row :
       Exec(tx,
            StrCat("SELECT name, type, description, command, args::text, "
                   "env::text, url, bearer_token, headers::text, revision, isolation, "
                   "min_processes, max_processes, max_in_flight_per_process, queue_size, "
                   "queue_timeout_ms, idle_timeout_ms, request_timeout_ms, cwd, "
                   "limit_address_space_mb, limit_cpu_seconds, limit_open_files, "
                   "limit_processes FROM servers",
                   KeyWhere(name, "name", &params), " ORDER BY name COLLATE \"C\""),
            params)) {
    Versioned<v1::Server>& v = out.emplace_back();
    v1::Server* server = &v.object;
    server->set_name(row[0].as<std::string>());
    server->set_type(row[1].as<std::string>());
    server->set_description(row[2].as<std::string>());
    server->set_command(row[3].as<std::string>());
    DecodeList(row[4].as<std::string>(), server->mutable_args());
    DecodeMap(row[5].as<std::string>(), server->mutable_env());
    server->set_url(row[6].as<std::string>());
    server->set_bearer_token(row[7].as<std::string>());
    DecodeMap(row[8].as<std::string>(), server->mutable_headers());
    v.revision = row[9].as<int64_t>();
    // "" is the canonical spelling of the default isolation.
    std::string isolation = row[10].as<std::string>();
    server->set_isolation(isolation == "shared" ? "" : isolation);
    server->set_min_processes(row[11].as<int32_t>());
    server->set_max_processes(row[12].as<int32_t>());
    server->set_max_in_flight_per_process(row[13].as<int32_t>());
    server->set_queue_size(row[14].as<int32_t>());
    server->set_queue_timeout_ms(row[15].as<int32_t>());
    server->set_idle_timeout_ms(row[16].as<int32_t>());
    server->set_request_timeout_ms(row[17].as<int32_t>());
    server->set_cwd(row[18].as<std::string>());
    server->set_limit_address_space_mb(row[19].as<int64_t>());
    server->set_limit_cpu_seconds(row[20].as<int64_t>());
    server->set_limit_open_files(row[21].as<int64_t>());
    server->set_limit_processes(row[22].as<int64_t>());
  }
  return out;
}

std::vector<Versioned<v1::Namespace>> ReadNamespaces(pqxx::transaction_base& tx,
                                                     const std::string* name) {
  std::vector<std::string> params;
  std::string where = KeyWhere(name, "name", &params);
  std::vector<Versioned<v1::Namespace>> out;
  std::map<std::string, size_t> index;
  for (const auto& row : Exec(tx,
                              StrCat("SELECT name, description, disable_prefix, revision "
                                     "FROM namespaces",
                                     where, " ORDER BY name COLLATE \"C\""),
                              params)) {
    Versioned<v1::Namespace>& v = out.emplace_back();
    v.object.set_name(row[0].as<std::string>());
    v.object.set_description(row[1].as<std::string>());
    v.object.set_disable_prefix(row[2].as<bool>());
    v.revision = row[3].as<int64_t>();
    index[v.object.name()] = out.size() - 1;
  }
  params.clear();
  for (const auto& row :
       Exec(tx,
            StrCat("SELECT namespace_name, server_name, disabled FROM namespace_servers",
                   KeyWhere(name, "namespace_name", &params), " ORDER BY namespace_name, position"),
            params)) {
    auto it = index.find(row[0].as<std::string>());
    if (it == index.end()) continue;
    v1::NamespaceServer* member = out[it->second].object.add_servers();
    member->set_server(row[1].as<std::string>());
    member->set_disabled(row[2].as<bool>());
  }
  return out;
}

std::vector<Versioned<v1::Endpoint>> ReadEndpoints(pqxx::transaction_base& tx,
                                                   const std::string* name) {
  std::vector<std::string> params;
  std::vector<Versioned<v1::Endpoint>> out;
  for (const auto& row :
       Exec(tx,
            StrCat("SELECT name, namespace_name, description, enable_api_key_auth, "
                   "use_query_param_auth, enable_oauth, user_requests_per_minute, "
                   "requests_per_minute, allowed_origins::text, revision, oauth_issuers::text, "
                   "oauth_jwks_url, oauth_required_scopes::text, oauth_audience FROM endpoints",
                   KeyWhere(name, "name", &params), " ORDER BY name COLLATE \"C\""),
            params)) {
    Versioned<v1::Endpoint>& v = out.emplace_back();
    v1::Endpoint* ep = &v.object;
    ep->set_name(row[0].as<std::string>());
    ep->set_namespace_(row[1].as<std::string>());
    ep->set_description(row[2].as<std::string>());
    ep->set_enable_api_key_auth(row[3].as<bool>());
    ep->set_use_query_param_auth(row[4].as<bool>());
    ep->set_enable_oauth(row[5].as<bool>());
    ep->set_user_requests_per_minute(row[6].as<int32_t>());
    ep->set_requests_per_minute(row[7].as<int32_t>());
    DecodeList(row[8].as<std::string>(), ep->mutable_allowed_origins());
    v.revision = row[9].as<int64_t>();
    DecodeList(row[10].as<std::string>(), ep->mutable_oauth_issuers());
    ep->set_oauth_jwks_url(row[11].as<std::string>());
    DecodeList(row[12].as<std::string>(), ep->mutable_oauth_required_scopes());
    ep->set_oauth_audience(row[13].as<std::string>());
  }
  return out;
}

std::vector<Versioned<v1::User>> ReadUsers(pqxx::transaction_base& tx, const std::string* email) {
  std::vector<std::string> params;
  std::vector<Versioned<v1::User>> out;
  for (const auto& row :
       Exec(tx,
            StrCat("SELECT email, name, is_admin, revision FROM users",
                   KeyWhere(email, "email", &params), " ORDER BY email COLLATE \"C\""),
            params)) {
    Versioned<v1::User>& v = out.emplace_back();
    v.object.set_email(row[0].as<std::string>());
    v.object.set_name(row[1].as<std::string>());
    v.object.set_is_admin(row[2].as<bool>());
    v.revision = row[3].as<int64_t>();
  }
  return out;
}

std::vector<Versioned<ApiKey>> ReadApiKeys(pqxx::transaction_base& tx, const std::string* id) {
  std::vector<std::string> params;
  std::vector<Versioned<ApiKey>> out;
  for (const auto& row :
       Exec(tx,
            StrCat("SELECT id, user_email, name, prefix, key_sha256, "
                   "extract(epoch FROM created_at)::bigint, "
                   "coalesce(extract(epoch FROM expires_at)::bigint, 0), endpoints::text, "
                   "revision FROM api_keys",
                   KeyWhere(id, "id", &params), " ORDER BY id COLLATE \"C\""),
            params)) {
    Versioned<ApiKey>& v = out.emplace_back();
    ApiKey* key = &v.object;
    key->set_id(row[0].as<std::string>());
    key->set_user_email(row[1].as<std::string>());
    key->set_name(row[2].as<std::string>());
    key->set_prefix(row[3].as<std::string>());
    key->set_key_sha256(row[4].as<std::string>());
    key->set_created_unix(row[5].as<int64_t>());
    key->set_expires_unix(row[6].as<int64_t>());
    DecodeList(row[7].as<std::string>(), key->mutable_endpoints());
    v.revision = row[8].as<int64_t>();
  }
  return out;
}

// `key` is "namespace/server/tool" (namespace and server names hold no '/').
std::vector<Versioned<v1::ToolOverride>> ReadToolOverrides(pqxx::transaction_base& tx,
                                                           const std::string* key) {
  std::vector<std::string> params;
  std::string where;
  if (key != nullptr) {
    size_t first = key->find('/');
    size_t second = first == std::string::npos ? first : key->find('/', first + 1);
    if (second == std::string::npos) return {};
    params = {key->substr(0, first), key->substr(first + 1, second - first - 1),
              key->substr(second + 1)};
    where = " WHERE namespace_name = $1 AND server_name = $2 AND tool_name = $3";
  }
  std::vector<Versioned<v1::ToolOverride>> out;
  for (const auto& row :
       Exec(tx,
            StrCat("SELECT namespace_name, server_name, tool_name, new_name, title, description, "
                   "annotations, disabled, user_requests_per_minute, revision FROM tool_overrides",
                   where,
                   " ORDER BY namespace_name COLLATE \"C\", server_name COLLATE \"C\", "
                   "tool_name COLLATE \"C\""),
            params)) {
    Versioned<v1::ToolOverride>& v = out.emplace_back();
    v1::ToolOverride* o = &v.object;
    o->set_namespace_(row[0].as<std::string>());
    o->set_server(row[1].as<std::string>());
    o->set_tool(row[2].as<std::string>());
    o->set_name(row[3].as<std::string>());
    o->set_title(row[4].as<std::string>());
    o->set_description(row[5].as<std::string>());
    o->set_annotations(row[6].as<std::string>());
    o->set_disabled(row[7].as<bool>());
    o->set_user_requests_per_minute(row[8].as<int32_t>());
    v.revision = row[9].as<int64_t>();
  }
  return out;
}

template <typename T>
void AddAll(std::vector<Versioned<T>> rows, google::protobuf::RepeatedPtrField<T>* out) {
  for (Versioned<T>& row : rows) *out->Add() = std::move(row.object);
}

// Reads the whole configuration through `tx`; consistent when `tx` is REPEATABLE READ.
// The tool names servers last reported, for CheckToolNames.
KnownTools LoadServerTools(pqxx::transaction_base& tx) {
  KnownTools out;
  for (const auto& row : tx.exec("SELECT server_name, tools::text FROM server_tools")) {
    google::protobuf::RepeatedPtrField<std::string> tools;
    DecodeList(row[1].as<std::string>(), &tools);
    out.emplace(row[0].as<std::string>(), std::vector<std::string>(tools.begin(), tools.end()));
  }
  return out;
}

Snapshot LoadState(pqxx::transaction_base& tx) {
  Snapshot s;
  s.set_revision(ReadRevision(tx));
  AddAll(ReadServers(tx, nullptr), s.mutable_servers());
  AddAll(ReadNamespaces(tx, nullptr), s.mutable_namespaces());
  AddAll(ReadEndpoints(tx, nullptr), s.mutable_endpoints());
  AddAll(ReadUsers(tx, nullptr), s.mutable_users());
  AddAll(ReadApiKeys(tx, nullptr), s.mutable_api_keys());
  AddAll(ReadToolOverrides(tx, nullptr), s.mutable_tool_overrides());
  return s;
}

template <typename T>
std::optional<StoredObject> First(std::vector<Versioned<T>> rows) {
  if (rows.empty()) return std::nullopt;
  return StoredObject{UpsertChange(rows[0].object), rows[0].revision};
}

// One object by kind and key, or nullopt when there is none.
std::optional<StoredObject> ReadObject(pqxx::transaction_base& tx, Change::Kind kind,
                                       const std::string& key) {
  std::optional<StoredObject> found;
  switch (kind) {
    case Change::SERVER:
      found = First(ReadServers(tx, &key));
      break;
    case Change::NAMESPACE:
      found = First(ReadNamespaces(tx, &key));
      break;
    case Change::ENDPOINT:
      found = First(ReadEndpoints(tx, &key));
      break;
    case Change::USER:
      found = First(ReadUsers(tx, &key));
      break;
    case Change::API_KEY:
      found = First(ReadApiKeys(tx, &key));
      break;
    case Change::TOOL_OVERRIDE:
      found = First(ReadToolOverrides(tx, &key));
      break;
    default:
      break;
  }
  if (found) found->object.clear_op();
  return found;
}

// Records one admin write; the objects are stored with their secrets redacted.
void WriteAudit(pqxx::transaction_base& tx, const std::string& actor, std::string_view action,
                Change::Kind kind, const std::string& key, const Change* before,
                const Change* after) {
  std::string before_json = before == nullptr ? "" : RedactedJson(*before);
  std::string after_json = after == nullptr ? "" : RedactedJson(*after);
  tx.exec_params(
      "INSERT INTO audit_log (actor, action, kind, name, before, after) "
      "VALUES ($1, $2, $3, $4, nullif($5, '')::jsonb, nullif($6, '')::jsonb)",
      actor, std::string(action), Change::Kind_Name(kind), key, before_json, after_json);
}

void WriteServer(pqxx::transaction_base& tx, const v1::Server& s) {
  tx.exec_params(
      "INSERT INTO servers (name, type, description, command, args, env, url, bearer_token, "
      "headers, isolation, min_processes, max_processes, max_in_flight_per_process, "
      "queue_size, queue_timeout_ms, idle_timeout_ms, request_timeout_ms, cwd, "
      "limit_address_space_mb, limit_cpu_seconds, limit_open_files, limit_processes) "
      "VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9::jsonb, $10, $11, $12, $13, "
      "$14, $15, $16, $17, $18, $19, $20, $21, $22) "
      "ON CONFLICT (name) DO UPDATE SET type = excluded.type, "
      "description = excluded.description, command = excluded.command, args = excluded.args, "
      "env = excluded.env, url = excluded.url, bearer_token = excluded.bearer_token, "
      "headers = excluded.headers, isolation = excluded.isolation, "
      "min_processes = excluded.min_processes, max_processes = excluded.max_processes, "
      "max_in_flight_per_process = excluded.max_in_flight_per_process, "
      "queue_size = excluded.queue_size, queue_timeout_ms = excluded.queue_timeout_ms, "
      "idle_timeout_ms = excluded.idle_timeout_ms, "
      "request_timeout_ms = excluded.request_timeout_ms, cwd = excluded.cwd, "
      "limit_address_space_mb = excluded.limit_address_space_mb, "
      "limit_cpu_seconds = excluded.limit_cpu_seconds, "
      "limit_open_files = excluded.limit_open_files, "
      "limit_processes = excluded.limit_processes, updated_at = now()",
      s.name(), s.type(), s.description(), s.command(), EncodeList(s.args()), EncodeMap(s.env()),
      s.url(), s.bearer_token(), EncodeMap(s.headers()),
      s.isolation().empty() ? std::string("shared") : s.isolation(), s.min_processes(),
      s.max_processes(), s.max_in_flight_per_process(), s.queue_size(), s.queue_timeout_ms(),
      s.idle_timeout_ms(), s.request_timeout_ms(), s.cwd(), s.limit_address_space_mb(),
      s.limit_cpu_seconds(), s.limit_open_files(), s.limit_processes());
}

void WriteNamespace(pqxx::transaction_base& tx, const v1::Namespace& ns) {
  tx.exec_params(
      "INSERT INTO namespaces (name, description, disable_prefix) VALUES ($1, $2, $3) "
      "ON CONFLICT (name) DO UPDATE SET description = excluded.description, "
      "disable_prefix = excluded.disable_prefix, updated_at = now()",
      ns.name(), ns.description(), ns.disable_prefix());
  tx.exec_params("DELETE FROM namespace_servers WHERE namespace_name = $1", ns.name());
  for (int i = 0; i < ns.servers_size(); ++i) {
    tx.exec_params(
        "INSERT INTO namespace_servers (namespace_name, server_name, position, disabled) "
        "VALUES ($1, $2, $3, $4)",
        ns.name(), ns.servers(i).server(), i, ns.servers(i).disabled());
  }
}

void WriteEndpoint(pqxx::transaction_base& tx, const v1::Endpoint& ep) {
  tx.exec_params(
      "INSERT INTO endpoints (name, namespace_name, description, enable_api_key_auth, "
      "use_query_param_auth, enable_oauth, user_requests_per_minute, requests_per_minute, "
      "allowed_origins, oauth_issuers, oauth_jwks_url, oauth_required_scopes, oauth_audience) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10::jsonb, $11, $12::jsonb, $13) "
      "ON CONFLICT (name) DO UPDATE SET namespace_name = excluded.namespace_name, "
      "description = excluded.description, enable_api_key_auth = excluded.enable_api_key_auth, "
      "use_query_param_auth = excluded.use_query_param_auth, "
      "enable_oauth = excluded.enable_oauth, "
      "user_requests_per_minute = excluded.user_requests_per_minute, "
      "requests_per_minute = excluded.requests_per_minute, "
      "allowed_origins = excluded.allowed_origins, oauth_issuers = excluded.oauth_issuers, "
      "oauth_jwks_url = excluded.oauth_jwks_url, "
      "oauth_required_scopes = excluded.oauth_required_scopes, "
      "oauth_audience = excluded.oauth_audience, updated_at = now()",
      ep.name(), ep.namespace_(), ep.description(), ep.enable_api_key_auth(),
      ep.use_query_param_auth(), ep.enable_oauth(), ep.user_requests_per_minute(),
      ep.requests_per_minute(), EncodeList(ep.allowed_origins()), EncodeList(ep.oauth_issuers()),
      ep.oauth_jwks_url(), EncodeList(ep.oauth_required_scopes()), ep.oauth_audience());
}

void WriteUser(pqxx::transaction_base& tx, const v1::User& u) {
  tx.exec_params(
      "INSERT INTO users (email, name, is_admin) VALUES ($1, $2, $3) "
      "ON CONFLICT (email) DO UPDATE SET name = excluded.name, is_admin = excluded.is_admin, "
      "updated_at = now()",
      u.email(), u.name(), u.is_admin());
}

void WriteToolOverride(pqxx::transaction_base& tx, const v1::ToolOverride& o) {
  tx.exec_params(
      "INSERT INTO tool_overrides (namespace_name, server_name, tool_name, new_name, title, "
      "description, annotations, disabled, user_requests_per_minute) "
      "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "
      "ON CONFLICT (namespace_name, server_name, tool_name) DO UPDATE SET "
      "new_name = excluded.new_name, title = excluded.title, "
      "description = excluded.description, annotations = excluded.annotations, "
      "disabled = excluded.disabled, "
      "user_requests_per_minute = excluded.user_requests_per_minute, updated_at = now()",
      o.namespace_(), o.server(), o.tool(), o.name(), o.title(), o.description(), o.annotations(),
      o.disabled(), o.user_requests_per_minute());
}

void WriteChange(pqxx::transaction_base& tx, const Change& c) {
  switch (c.kind()) {
    case Change::SERVER:
      WriteServer(tx, c.server());
      break;
    case Change::NAMESPACE:
      WriteNamespace(tx, c.namespace_());
      break;
    case Change::ENDPOINT:
      WriteEndpoint(tx, c.endpoint());
      break;
    case Change::USER:
      WriteUser(tx, c.user());
      break;
    case Change::TOOL_OVERRIDE:
      WriteToolOverride(tx, c.tool_override());
      break;
    default:
      break;
  }
}

std::string QuotedList(const pqxx::result& rows) {
  std::string out;
  for (const auto& row : rows) {
    if (!out.empty()) out += ", ";
    out += StrCat("'", row[0].as<std::string>(), "'");
  }
  return out;
}

// Deletes with `sql` (one parameter: the key); NotFound naming the object when nothing matched.
absl::Status DeleteRow(pqxx::transaction_base& tx, const char* sql, std::string_view kind,
                       const std::string& key) {
  if (tx.exec_params(sql, key).affected_rows() == 0) {
    return absl::NotFoundError(StrCat(kind, " '", key, "' not found"));
  }
  return absl::OkStatus();
}

absl::Status DeleteObject(pqxx::transaction_base& tx, Change::Kind kind, const std::string& key) {
  switch (kind) {
    case Change::SERVER: {
      pqxx::result users = tx.exec_params(
          "SELECT DISTINCT namespace_name FROM namespace_servers WHERE server_name = $1 "
          "ORDER BY 1",
          key);
      if (!users.empty()) {
        return absl::FailedPreconditionError(StrCat("server '", key, "' is used by namespace ",
                                                    QuotedList(users),
                                                    "; remove it from there first"));
      }
      return DeleteRow(tx, "DELETE FROM servers WHERE name = $1", "server", key);
    }
    case Change::NAMESPACE: {
      pqxx::result users =
          tx.exec_params("SELECT name FROM endpoints WHERE namespace_name = $1 ORDER BY 1", key);
      if (!users.empty()) {
        return absl::FailedPreconditionError(StrCat("namespace '", key, "' is served by endpoint ",
                                                    QuotedList(users),
                                                    "; delete or move the endpoint first"));
      }
      return DeleteRow(tx, "DELETE FROM namespaces WHERE name = $1", "namespace", key);
    }
    case Change::ENDPOINT:
      return DeleteRow(tx, "DELETE FROM endpoints WHERE name = $1", "endpoint", key);
    case Change::USER:
      return DeleteRow(tx, "DELETE FROM users WHERE email = $1", "user", key);
    case Change::API_KEY:
      return DeleteRow(tx, "DELETE FROM api_keys WHERE id = $1", "api key", key);
    case Change::TOOL_OVERRIDE: {
      std::optional<StoredObject> found = ReadObject(tx, kind, key);
      if (!found) return absl::NotFoundError(StrCat("tool override '", key, "' not found"));
      const v1::ToolOverride& o = found->object.tool_override();
      tx.exec_params(
          "DELETE FROM tool_overrides WHERE namespace_name = $1 AND server_name = $2 "
          "AND tool_name = $3",
          o.namespace_(), o.server(), o.tool());
      return absl::OkStatus();
    }
    default:
      return absl::InvalidArgumentError(
          "kind: must be SERVER, NAMESPACE, ENDPOINT, USER, API_KEY or TOOL_OVERRIDE");
  }
}

bool IsConnectionState(const std::string& sqlstate) {
  return sqlstate.rfind("08", 0) == 0 || sqlstate.rfind("57P", 0) == 0;
}

absl::Status SqlErrorStatus(std::string_view what, const pqxx::sql_error& e,
                            const std::string& url) {
  const std::string& state = e.sqlstate();
  std::string message =
      StrCat(what, ": ", SanitizeDbError(PrimaryMessage(e.what()), url), " (SQLSTATE ", state, ")");
  if (state == "23503") return absl::FailedPreconditionError(message);
  if (state == "23505") return absl::AlreadyExistsError(message);
  if (state.rfind("22", 0) == 0 || state == "23502" || state == "23514") {
    return absl::InvalidArgumentError(message);
  }
  if (state == "40001" || state == "40P01") return absl::AbortedError(message);
  if (IsConnectionState(state)) return absl::UnavailableError(message);
  return absl::InternalError(message);
}

}  // namespace

struct PgConfigStore::Conn {
  explicit Conn(const std::string& url) : db(url), notices(db, url) {}
  ~Conn() { db.disconnect(); }  // first, so dropping the receiver sends nothing

  pqxx::connection db;
  NoticeLogger notices;
  bool notified = false;
  std::unique_ptr<RevisionReceiver> receiver;
};

PgConfigStore::PgConfigStore(std::string url) : url_(std::move(url)) {}

PgConfigStore::~PgConfigStore() = default;

template <typename T, typename Body>
absl::StatusOr<T> PgConfigStore::RunOnce(std::string_view what, Body& body, bool* broke) {
  *broke = false;
  try {
    if (conn_ == nullptr) conn_ = std::make_unique<Conn>(url_);
    return body(*conn_);
  } catch (const pqxx::broken_connection& e) {
    conn_.reset();
    *broke = true;
    return absl::UnavailableError(
        StrCat(what, ": no connection to Postgres: ", SanitizeDbError(e.what(), url_)));
  } catch (const pqxx::in_doubt_error&) {
    conn_.reset();
    return absl::UnavailableError(
        StrCat(what, ": the connection to Postgres broke during commit; the outcome is unknown"));
  } catch (const pqxx::sql_error& e) {
    if (IsConnectionState(e.sqlstate())) conn_.reset();
    return SqlErrorStatus(what, e, url_);
  } catch (const std::exception& e) {
    return absl::InternalError(StrCat(what, ": ", SanitizeDbError(e.what(), url_)));
  }
}

template <typename T, typename Body>
absl::StatusOr<T> PgConfigStore::Run(std::string_view what, Body&& body) {
  if (conn_ != nullptr) {
    // Reads whatever the server sent while the connection sat idle, so one it has already
    // closed (restart, failover, idle timeout) is dropped before any statement runs.
    try {
      conn_->db.get_notifs();
      if (!conn_->db.is_open()) conn_.reset();
    } catch (const std::exception&) {
      conn_.reset();
    }
  }
  bool reused = conn_ != nullptr;
  bool broke = false;
  absl::StatusOr<T> result = RunOnce<T>(what, body, &broke);
  // A connection that broke before COMMIT took its transaction with it (a break during COMMIT
  // is in_doubt_error, never retried), so a stale connection gets one more try on a new one.
  if (broke && reused) result = RunOnce<T>(what, body, &broke);
  return result;
}

absl::Status PgConfigStore::Connect() {
  return Run<bool>("connect", [](Conn&) { return true; }).status();
}

absl::StatusOr<Snapshot> PgConfigStore::LoadSnapshot() {
  return Run<Snapshot>("load snapshot", [](Conn& c) {
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(c.db);
    Snapshot s = LoadState(tx);
    tx.commit();
    return s;
  });
}

absl::StatusOr<int64_t> PgConfigStore::LoadRevision() {
  return Run<int64_t>("load revision", [](Conn& c) {
    pqxx::read_transaction tx(c.db);
    int64_t revision = ReadRevision(tx);
    tx.commit();
    return revision;
  });
}

absl::StatusOr<ApplyOutcome> PgConfigStore::Apply(const ApplyRequest& request,
                                                  const std::string& actor) {
  if (request.dry_run()) {
    return Run<ApplyOutcome>("apply (dry run)", [&](Conn& c) -> absl::StatusOr<ApplyOutcome> {
      pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(c.db);
      Snapshot current = LoadState(tx);
      KnownTools tools = LoadServerTools(tx);
      tx.commit();
      SB_ASSIGN_OR_RETURN(ApplyPlan plan, PlanApply(current, request));
      SB_RETURN_IF_ERROR(CheckToolNames(current, ApplyChanges(current, plan.changes), tools));
      return ApplyOutcome{current.revision(), std::move(plan.changes), std::move(plan.diff)};
    });
  }
  return Run<ApplyOutcome>("apply", [&](Conn& c) -> absl::StatusOr<ApplyOutcome> {
    pqxx::work tx(c.db);
    // Writers take turns, so the comparison below sees every earlier apply.
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", kWriteLockKey);
    Snapshot current = LoadState(tx);
    SB_ASSIGN_OR_RETURN(ApplyPlan plan, PlanApply(current, request));
    SB_RETURN_IF_ERROR(
        CheckToolNames(current, ApplyChanges(current, plan.changes), LoadServerTools(tx)));
    for (const Change& change : plan.changes) {
      std::optional<StoredObject> before = ReadObject(tx, change.kind(), change.name());
      if (change.op() == Change::DELETE) {
        SB_RETURN_IF_ERROR(DeleteObject(tx, change.kind(), change.name()));
        WriteAudit(tx, actor, "apply", change.kind(), change.name(),
                   before ? &before->object : nullptr, nullptr);
        continue;
      }
      WriteChange(tx, change);
      WriteAudit(tx, actor, "apply", change.kind(), change.name(),
                 before ? &before->object : nullptr, &change);
    }
    ApplyOutcome out{ReadRevision(tx), std::move(plan.changes), std::move(plan.diff)};
    tx.commit();
    return out;
  });
}

absl::StatusOr<int64_t> PgConfigStore::Delete(Change::Kind kind, const std::string& key,
                                              const std::string& actor, const StoredCheck& check) {
  return Run<int64_t>("delete", [&](Conn& c) -> absl::StatusOr<int64_t> {
    pqxx::work tx(c.db);
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", kWriteLockKey);
    std::optional<StoredObject> before = ReadObject(tx, kind, key);
    if (before && check) SB_RETURN_IF_ERROR(check(before->object));
    SB_RETURN_IF_ERROR(DeleteObject(tx, kind, key));
    WriteAudit(tx, actor, "delete", kind, key, before ? &before->object : nullptr, nullptr);
    int64_t revision = ReadRevision(tx);
    tx.commit();
    return revision;
  });
}

absl::StatusOr<ApiKey> PgConfigStore::InsertApiKey(const ApiKey& key, const std::string& actor) {
  return Run<ApiKey>("create api key", [&](Conn& c) -> absl::StatusOr<ApiKey> {
    pqxx::work tx(c.db);
    tx.exec_params("SELECT pg_advisory_xact_lock($1)", kWriteLockKey);
    for (int i = 0; i < key.endpoints_size(); ++i) {
      if (tx.exec_params("SELECT 1 FROM endpoints WHERE name = $1", key.endpoints(i)).empty()) {
        return absl::InvalidArgumentError(
            StrCat("endpoints[", i, "]: unknown endpoint '", key.endpoints(i), "'"));
      }
    }
    pqxx::result r = tx.exec_params(
        "INSERT INTO api_keys (id, user_email, name, prefix, key_sha256, expires_at, endpoints) "
        "SELECT $1, $2, $3, $4, $5, "
        "CASE WHEN $6::bigint = 0 THEN NULL ELSE to_timestamp($6::bigint) END, $7::jsonb "
        "WHERE EXISTS (SELECT 1 FROM users WHERE email = $2) "
        "RETURNING extract(epoch FROM created_at)::bigint",
        key.id(), key.user_email(), key.name(), key.prefix(), key.key_sha256(), key.expires_unix(),
        EncodeList(key.endpoints()));
    if (r.empty()) {
      return absl::NotFoundError(StrCat("user '", key.user_email(), "' not found"));
    }
    ApiKey stored = key;
    stored.set_created_unix(r[0][0].as<int64_t>());
    Change after = UpsertChange(stored);
    WriteAudit(tx, actor, "create", Change::API_KEY, stored.id(), nullptr, &after);
    tx.commit();
    return stored;
  });
}

absl::StatusOr<StoredObject> PgConfigStore::Get(Change::Kind kind, const std::string& key) {
  return Run<StoredObject>("get", [&](Conn& c) -> absl::StatusOr<StoredObject> {
    pqxx::read_transaction tx(c.db);
    std::optional<StoredObject> found = ReadObject(tx, kind, key);
    tx.commit();
    if (!found) return absl::NotFoundError(StrCat(KindLabel(kind), " '", key, "' not found"));
    return std::move(*found);
  });
}

absl::StatusOr<StoredObject> PgConfigStore::Put(WriteMode mode, const Change& object,
                                                int64_t expected_revision, const std::string& actor,
                                                const StoredCheck& check) {
  const bool create = mode == WriteMode::kCreate;
  return Run<StoredObject>(
      create ? "create" : "update", [&](Conn& c) -> absl::StatusOr<StoredObject> {
        pqxx::work tx(c.db);
        // Writers take turns, so the checks below hold until the commit.
        tx.exec_params("SELECT pg_advisory_xact_lock($1)", kWriteLockKey);
        Change incoming = object;
        incoming.clear_op();
        const Change::Kind kind = incoming.kind();
        const std::string& key = incoming.name();
        std::string_view label = KindLabel(kind);
        std::optional<StoredObject> before = ReadObject(tx, kind, key);
        if (before && check) SB_RETURN_IF_ERROR(check(before->object));
        Snapshot current = LoadState(tx);
        SB_RETURN_IF_ERROR(ValidateObject(current, incoming));
        if (create && before) {
          return absl::AlreadyExistsError(StrCat(label, " '", key, "' already exists"));
        }
        if (!create && !before) return absl::NotFoundError(StrCat(label, " '", key, "' not found"));
        if (!create && before->revision != expected_revision) {
          return absl::FailedPreconditionError(StrCat(
              label, " '", key, "' is at revision ", before->revision, ", not expected_revision ",
              expected_revision, ": it changed since it was read; get it again and retry"));
        }
        if (kind == Change::SERVER) {
          SB_RETURN_IF_ERROR(RestoreBlankedSecrets(incoming.mutable_server(),
                                                   before ? &before->object.server() : nullptr,
                                                   ObjectField(kind)));
        }
        // Only namespaces and tool overrides change the names a namespace lists, and only a
        // namespace that drops a server leaves overrides of that server's tools behind (they go
        // with it).
        std::vector<Change> orphans;
        if (kind == Change::NAMESPACE || kind == Change::TOOL_OVERRIDE) {
          Snapshot next = ApplyChanges(current, {incoming});
          SB_RETURN_IF_ERROR(CheckToolNames(current, next, LoadServerTools(tx)));
          orphans = OrphanedOverrideDeletes(next);
        }
        WriteChange(tx, incoming);
        for (const Change& orphan : orphans) {
          std::optional<StoredObject> gone = ReadObject(tx, orphan.kind(), orphan.name());
          SB_RETURN_IF_ERROR(DeleteObject(tx, orphan.kind(), orphan.name()));
          WriteAudit(tx, actor, "update", orphan.kind(), orphan.name(),
                     gone ? &gone->object : nullptr, nullptr);
        }
        std::optional<StoredObject> after = ReadObject(tx, kind, key);
        if (!after)
          return absl::InternalError(StrCat(label, " '", key, "' vanished while written"));
        WriteAudit(tx, actor, create ? "create" : "update", kind, key,
                   before ? &before->object : nullptr, &after->object);
        tx.commit();
        return std::move(*after);
      });
}

absl::StatusOr<std::vector<v1::AuditEntry>> PgConfigStore::ListAudit(
    const v1::ListAuditRequest& request) {
  return Run<std::vector<v1::AuditEntry>>("list audit", [&](Conn& c) {
    std::vector<std::string> params;
    std::string where;
    auto add = [&](std::string_view condition, std::string value) {
      params.push_back(std::move(value));
      where += StrCat(where.empty() ? " WHERE " : " AND ", condition, "$", params.size());
    };
    if (request.kind() != Change::KIND_UNSPECIFIED) {
      add("kind = ", Change::Kind_Name(request.kind()));
    }
    if (!request.name().empty()) add("name = ", request.name());
    if (request.since_unix() > 0) {
      add("at >= to_timestamp(", std::to_string(request.since_unix()));
      where += "::bigint)";
    }
    pqxx::read_transaction tx(c.db);
    pqxx::result rows =
        Exec(tx,
             StrCat("SELECT id, extract(epoch FROM at)::bigint, actor, action, kind, name, "
                    "coalesce(before::text, ''), coalesce(after::text, '') FROM audit_log",
                    where, " ORDER BY id DESC LIMIT ", request.limit()),
             params);
    tx.commit();
    std::vector<v1::AuditEntry> out;
    for (const auto& row : rows) {
      v1::AuditEntry& e = out.emplace_back();
      e.set_id(row[0].as<int64_t>());
      e.set_at_unix(row[1].as<int64_t>());
      e.set_actor(row[2].as<std::string>());
      e.set_action(row[3].as<std::string>());
      Change::Kind kind = Change::KIND_UNSPECIFIED;
      Change::Kind_Parse(row[4].as<std::string>(), &kind);
      e.set_kind(kind);
      e.set_name(row[5].as<std::string>());
      e.set_before_json(row[6].as<std::string>());
      e.set_after_json(row[7].as<std::string>());
    }
    return out;
  });
}

absl::Status PgConfigStore::RecordApiKeyUse(const std::vector<v1::ApiKeyUse>& uses) {
  return Run<bool>("record api key use",
                   [&](Conn& c) {
                     pqxx::work tx(c.db);
                     for (const v1::ApiKeyUse& use : uses) {
                       Exec(tx,
                            "INSERT INTO api_key_use (key_id, last_used_at) "
                            "SELECT id, to_timestamp($2::bigint) FROM api_keys WHERE id = $1 "
                            "ON CONFLICT (key_id) DO UPDATE SET last_used_at = "
                            "greatest(api_key_use.last_used_at, excluded.last_used_at)",
                            {use.id(), std::to_string(use.used_unix())});
                     }
                     tx.commit();
                     return true;
                   })
      .status();
}

absl::Status PgConfigStore::RecordToolCalls(
    const std::vector<std::pair<std::string, v1::ToolCall>>& calls) {
  // One statement for the whole batch (the drain's batches follow the edges' traffic).
  boost::json::array rows;
  rows.reserve(calls.size());
  for (const auto& [stream_id, call] : calls) {
    rows.push_back(boost::json::object{
        {"stream_id", stream_id},
        {"at_ms", call.at_unix_ms()},
        {"user_email", call.user_email()},
        {"endpoint", call.endpoint()},
        {"tool", call.tool()},
        {"outcome", call.outcome()},
        {"duration_ms", std::max<int64_t>(0, call.duration_ms())}});
  }
  const std::string batch = boost::json::serialize(rows);
  return Run<bool>("record tool calls",
                   [&](Conn& c) {
                     pqxx::work tx(c.db);
                     Exec(tx,
                          "INSERT INTO tool_call_audit (stream_id, called_at, user_email, "
                          "endpoint_name, tool_name, outcome, duration_ms) "
                          "SELECT stream_id, to_timestamp(at_ms / 1000.0), user_email, endpoint, "
                          "tool, outcome, duration_ms FROM jsonb_to_recordset($1::jsonb) AS "
                          "x(stream_id text, at_ms bigint, user_email text, endpoint text, "
                          "tool text, outcome text, duration_ms bigint) "
                          "ON CONFLICT (stream_id) DO NOTHING",
                          {batch});
                     tx.commit();
                     return true;
                   })
      .status();
}

absl::StatusOr<std::vector<v1::ToolCall>> PgConfigStore::ListToolCalls(
    const v1::ListToolCallsRequest& request) {
  return Run<std::vector<v1::ToolCall>>("list tool calls", [&](Conn& c) {
    std::vector<std::string> params;
    std::string where;
    if (!request.user_email().empty()) {
      params.push_back(request.user_email());
      where = StrCat(" WHERE user_email = $", params.size());
    }
    if (request.since_unix() > 0) {
      params.push_back(std::to_string(request.since_unix()));
      where += StrCat(where.empty() ? " WHERE " : " AND ", "called_at >= to_timestamp($",
                      params.size(), "::bigint)");
    }
    pqxx::read_transaction tx(c.db);
    pqxx::result rows =
        Exec(tx,
             StrCat("SELECT (extract(epoch FROM called_at) * 1000)::bigint, user_email, "
                    "endpoint_name, tool_name, outcome, duration_ms FROM tool_call_audit",
                    where, " ORDER BY called_at DESC, id DESC LIMIT ", request.limit()),
             params);
    tx.commit();
    std::vector<v1::ToolCall> out;
    for (const auto& row : rows) {
      v1::ToolCall& call = out.emplace_back();
      call.set_at_unix_ms(row[0].as<int64_t>());
      call.set_user_email(row[1].as<std::string>());
      call.set_endpoint(row[2].as<std::string>());
      call.set_tool(row[3].as<std::string>());
      call.set_outcome(row[4].as<std::string>());
      call.set_duration_ms(row[5].as<int64_t>());
    }
    return out;
  });
}

absl::StatusOr<std::map<std::string, int64_t>> PgConfigStore::LoadApiKeyUse() {
  return Run<std::map<std::string, int64_t>>("load api key use", [&](Conn& c) {
    pqxx::read_transaction tx(c.db);
    pqxx::result rows =
        Exec(tx, "SELECT key_id, extract(epoch FROM last_used_at)::bigint FROM api_key_use", {});
    tx.commit();
    std::map<std::string, int64_t> out;
    for (const auto& row : rows) out[row[0].as<std::string>()] = row[1].as<int64_t>();
    return out;
  });
}

absl::Status PgConfigStore::RecordServerTools(const std::vector<v1::ServerTools>& servers) {
  return Run<bool>("record server tools",
                   [&](Conn& c) {
                     pqxx::work tx(c.db);
                     for (const v1::ServerTools& server : servers) {
                       Exec(tx,
                            "INSERT INTO server_tools (server_name, tools) "
                            "SELECT name, $2::jsonb FROM servers WHERE name = $1 "
                            "ON CONFLICT (server_name) DO UPDATE SET tools = excluded.tools, "
                            "reported_at = now()",
                            {server.server(), EncodeList(server.tools())});
                     }
                     tx.commit();
                     return true;
                   })
      .status();
}

absl::StatusOr<bool> PgConfigStore::WaitForChange(std::chrono::milliseconds timeout) {
  return Run<bool>("listen", [&](Conn& c) {
    bool fresh = false;
    if (c.receiver == nullptr) {
      c.receiver = std::make_unique<RevisionReceiver>(c.db, &c.notified);
      fresh = true;  // anything before the LISTEN went unheard
    }
    c.db.get_notifs();
    if (!c.notified && !fresh && timeout.count() > 0) {
      int64_t usec = std::chrono::duration_cast<std::chrono::microseconds>(timeout).count();
      c.db.await_notification(static_cast<long>(usec / 1000000), static_cast<long>(usec % 1000000));
    }
    bool news = fresh || c.notified;
    c.notified = false;
    return news;
  });
}

absl::StatusOr<int> MigratePostgres(const std::string& url,
                                    const std::vector<Migration>& migrations) {
  std::string current = "connect";
  try {
    pqxx::connection db(url);
    NoticeLogger notices(db, url);
    current = "lock";
    {
      pqxx::nontransaction tx(db);
      tx.exec_params("SELECT pg_advisory_lock($1)", kMigrationLockKey);
    }
    current = "schema_migrations";
    {
      pqxx::work tx(db);
      tx.exec(
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          "version integer PRIMARY KEY, name text NOT NULL, sha256 text NOT NULL, "
          "applied_at timestamptz NOT NULL DEFAULT now())");
      tx.commit();
    }
    std::map<int, std::string> applied;
    {
      pqxx::read_transaction tx(db);
      for (const auto& row : tx.exec("SELECT version, sha256 FROM schema_migrations")) {
        applied[row[0].as<int>()] = row[1].as<std::string>();
      }
      tx.commit();
    }
    int count = 0;
    for (const Migration& m : migrations) {
      auto it = applied.find(m.version);
      if (it != applied.end()) {
        if (it->second != m.sha256) {
          return absl::FailedPreconditionError(
              StrCat("migration ", m.filename,
                     " was changed after it was applied (its SHA-256 differs); add a new "
                     "migration instead"));
        }
        continue;
      }
      current = StrCat("migration ", m.filename);
      pqxx::work tx(db);
      tx.exec(m.sql);
      tx.exec_params("INSERT INTO schema_migrations (version, name, sha256) VALUES ($1, $2, $3)",
                     m.version, m.name, m.sha256);
      tx.commit();
      ++count;
      log::Info("migration applied", {{"version", m.version}, {"name", m.name}});
    }
    if (!applied.empty() && applied.rbegin()->first > static_cast<int>(migrations.size())) {
      log::Warn("database schema is newer than this registry",
                {{"database_version", applied.rbegin()->first},
                 {"known_version", static_cast<int64_t>(migrations.size())}});
    }
    {
      pqxx::nontransaction tx(db);
      tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    }
    return count;
  } catch (const pqxx::sql_error& e) {
    return SqlErrorStatus(current, e, url);
  } catch (const pqxx::broken_connection& e) {
    return absl::UnavailableError(
        StrCat(current, ": no connection to Postgres: ", SanitizeDbError(e.what(), url)));
  } catch (const std::exception& e) {
    return absl::InternalError(StrCat(current, ": ", SanitizeDbError(e.what(), url)));
  }
}

}  // namespace switchboard::registry
