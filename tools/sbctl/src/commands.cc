#include "tools/sbctl/src/commands.h"

#include <google/protobuf/util/json_util.h>

#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include "switchboard/config/declarative.h"
#include "tools/sbctl/src/output.h"

namespace switchboard::sbctl {
namespace {

namespace v1 = registry::v1;

constexpr int kExitOk = 0;
constexpr int kExitRegistry = 1;
constexpr int kExitInput = 2;

// Reports a failed call to `service` ("registry", "runner") at `address`; one line.
int ServiceError(std::string_view service, const std::string& address,
                 const absl::Status& status, std::ostream& err) {
  std::string message(MessageOf(status));
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';  // one line, whatever the transport said
  }
  if (absl::IsUnavailable(status)) {
    err << "sbctl: " << service << " at " << address << " unavailable: " << message << "\n";
  } else if (absl::IsDeadlineExceeded(status)) {
    err << "sbctl: " << service << " at " << address << " did not answer in time\n";
  } else {
    err << "sbctl: " << message << "\n";
  }
  return kExitRegistry;
}

int RegistryError(const Command& command, const absl::Status& status, std::ostream& err) {
  return ServiceError("registry", command.registry, status, err);
}

absl::StatusOr<std::string> ReadInput(const std::string& file) {
  std::stringstream text;
  if (file == "-") {
    text << std::cin.rdbuf();
    return text.str();
  }
  std::ifstream in(file);
  if (!in) return absl::NotFoundError(StrCat("cannot read: ", std::strerror(errno)));
  text << in.rdbuf();
  return text.str();
}

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Reads variables from the process environment for ${VAR} references.
std::optional<std::string> Getenv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) return std::nullopt;
  return std::string(value);
}

// Prints a document as YAML or JSON.
void PrintDocument(const Command& command, const boost::json::value& doc, std::ostream& out) {
  if (command.json) {
    out << boost::json::serialize(doc) << "\n";
  } else {
    out << config::ToYaml(doc);
  }
}

int ApplyRequestAndPrint(const Command& command, v1::ApplyRequest& request,
                         RegistryClient& client, std::ostream& out, std::ostream& err) {
  request.set_dry_run(command.dry_run);
  request.set_mode(command.mode);
  absl::StatusOr<v1::ApplyResponse> response = client.Apply(request);
  if (!response.ok()) return RegistryError(command, response.status(), err);
  out << FormatApplyDiff(*response, command.dry_run);
  return kExitOk;
}

int Apply(const Command& command, RegistryClient& client, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::string> text = ReadInput(command.file);
  if (!text.ok()) {
    err << "sbctl: " << command.file << ": " << MessageOf(text.status()) << "\n";
    return kExitInput;
  }
  absl::StatusOr<v1::ApplyRequest> request = config::ParseDeclarative(*text, &Getenv);
  if (!request.ok()) {
    err << "sbctl: " << command.file << ": " << MessageOf(request.status()) << "\n";
    return kExitInput;
  }
  return ApplyRequestAndPrint(command, *request, client, out, err);
}

// An object in the form get/describe print it: the declarative form (what apply reads), or
// for an API key its listed fields.
boost::json::object ObjectJson(const v1::Change& c) {
  if (c.has_server()) return config::DeclarativeObject(c.server());
  if (c.has_namespace_()) return config::DeclarativeObject(c.namespace_());
  if (c.has_endpoint()) return config::DeclarativeObject(c.endpoint());
  if (c.has_user()) return config::DeclarativeObject(c.user());
  if (c.has_tool_override()) return config::DeclarativeObject(c.tool_override());
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(c.api_key(), &json, options);
  return boost::json::parse(json).as_object();
}

// Every object of the command's kind as UPSERT changes, in the registry's order.
absl::StatusOr<std::vector<v1::Change>> ListKind(v1::Change::Kind kind, RegistryClient& client) {
  std::vector<v1::Change> out;
  auto add = [&](auto set) {
    v1::Change& c = out.emplace_back();
    c.set_op(v1::Change::UPSERT);
    c.set_kind(kind);
    set(&c);
  };
  switch (kind) {
    case v1::Change::SERVER: {
      SB_ASSIGN_OR_RETURN(auto r, client.ListServers());
      for (auto& x : *r.mutable_servers()) add([&](v1::Change* c) { c->mutable_server()->Swap(&x); });
      break;
    }
    case v1::Change::NAMESPACE: {
      SB_ASSIGN_OR_RETURN(auto r, client.ListNamespaces());
      for (auto& x : *r.mutable_namespaces()) {
        add([&](v1::Change* c) { c->mutable_namespace_()->Swap(&x); });
      }
      break;
    }
    case v1::Change::ENDPOINT: {
      SB_ASSIGN_OR_RETURN(auto r, client.ListEndpoints());
      for (auto& x : *r.mutable_endpoints()) {
        add([&](v1::Change* c) { c->mutable_endpoint()->Swap(&x); });
      }
      break;
    }
    case v1::Change::USER: {
      SB_ASSIGN_OR_RETURN(auto r, client.ListUsers());
      for (auto& x : *r.mutable_users()) add([&](v1::Change* c) { c->mutable_user()->Swap(&x); });
      break;
    }
    case v1::Change::TOOL_OVERRIDE: {
      SB_ASSIGN_OR_RETURN(auto r, client.ListToolOverrides());
      for (auto& x : *r.mutable_tool_overrides()) {
        add([&](v1::Change* c) { c->mutable_tool_override()->Swap(&x); });
      }
      break;
    }
    case v1::Change::API_KEY: {
      SB_ASSIGN_OR_RETURN(auto r, client.ListApiKeys());
      for (auto& x : *r.mutable_api_keys()) {
        add([&](v1::Change* c) { c->mutable_api_key()->Swap(&x); });
      }
      break;
    }
    default:
      return absl::InvalidArgumentError("unknown kind");
  }
  return out;
}

// The table `get` prints for a list of one kind.
std::string FormatKindTable(v1::Change::Kind kind, const std::vector<v1::Change>& objects) {
  v1::ListServersResponse servers;
  v1::ListNamespacesResponse namespaces;
  v1::ListEndpointsResponse endpoints;
  v1::ListUsersResponse users;
  v1::ListToolOverridesResponse overrides;
  v1::ListApiKeysResponse keys;
  for (const v1::Change& c : objects) {
    if (c.has_server()) *servers.add_servers() = c.server();
    if (c.has_namespace_()) *namespaces.add_namespaces() = c.namespace_();
    if (c.has_endpoint()) *endpoints.add_endpoints() = c.endpoint();
    if (c.has_user()) *users.add_users() = c.user();
    if (c.has_tool_override()) *overrides.add_tool_overrides() = c.tool_override();
    if (c.has_api_key()) *keys.add_api_keys() = c.api_key();
  }
  switch (kind) {
    case v1::Change::SERVER:
      return FormatServers(servers);
    case v1::Change::NAMESPACE:
      return FormatNamespaces(namespaces);
    case v1::Change::ENDPOINT:
      return FormatEndpoints(endpoints);
    case v1::Change::USER:
      return FormatUsers(users);
    case v1::Change::TOOL_OVERRIDE:
      return FormatToolOverrides(overrides);
    default:
      return FormatApiKeys(keys);
  }
}

// One object by key: the Get RPC, or for an API key (which has none) the list.
absl::StatusOr<std::pair<v1::Change, int64_t>> GetOne(const Command& command,
                                                      RegistryClient& client) {
  if (command.kind != v1::Change::API_KEY) return client.Get(command.kind, command.name);
  SB_ASSIGN_OR_RETURN(std::vector<v1::Change> keys, ListKind(command.kind, client));
  for (v1::Change& k : keys) {
    if (k.api_key().id() == command.name) return std::make_pair(std::move(k), int64_t{0});
  }
  return absl::NotFoundError(StrCat("api key '", command.name, "' not found"));
}

const KindInfo& InfoOf(v1::Change::Kind kind) {
  for (const KindInfo& k : Kinds()) {
    if (k.kind == kind) return k;
  }
  return Kinds().front();
}

int Get(const Command& command, RegistryClient& client, std::ostream& out, std::ostream& err) {
  const KindInfo& info = InfoOf(command.kind);
  std::vector<v1::Change> objects;
  if (command.name.empty()) {
    absl::StatusOr<std::vector<v1::Change>> listed = ListKind(command.kind, client);
    if (!listed.ok()) return RegistryError(command, listed.status(), err);
    objects = std::move(*listed);
  } else {
    absl::StatusOr<std::pair<v1::Change, int64_t>> one = GetOne(command, client);
    if (!one.ok()) return RegistryError(command, one.status(), err);
    objects.push_back(std::move(one->first));
  }
  if (command.json || command.yaml) {
    boost::json::array items;
    for (const v1::Change& c : objects) items.emplace_back(ObjectJson(c));
    PrintDocument(command, boost::json::object{{info.plural, std::move(items)}}, out);
  } else if (objects.empty()) {
    err << "sbctl: no " << info.plural << " found\n";
  } else {
    out << FormatKindTable(command.kind, objects);
  }
  return kExitOk;
}

int Describe(const Command& command, RegistryClient& client, std::ostream& out,
             std::ostream& err) {
  absl::StatusOr<std::pair<v1::Change, int64_t>> one = GetOne(command, client);
  if (!one.ok()) return RegistryError(command, one.status(), err);
  boost::json::object doc = {{"kind", KindName(command.kind)}};
  for (auto& kv : ObjectJson(one->first)) doc[kv.key()] = kv.value();
  if (one->second > 0) doc["revision"] = one->second;
  PrintDocument(command, doc, out);
  return kExitOk;
}

int Export(const Command& command, RegistryClient& client, std::ostream& out, std::ostream& err) {
  v1::ApplyRequest config;
  auto fail = [&](const absl::Status& status) { return RegistryError(command, status, err); };
  auto servers = command.show_secrets ? client.ListServersWithSecrets() : client.ListServers();
  if (!servers.ok()) return fail(servers.status());
  config.mutable_servers()->Swap(servers->mutable_servers());
  auto namespaces = client.ListNamespaces();
  if (!namespaces.ok()) return fail(namespaces.status());
  config.mutable_namespaces()->Swap(namespaces->mutable_namespaces());
  auto endpoints = client.ListEndpoints();
  if (!endpoints.ok()) return fail(endpoints.status());
  config.mutable_endpoints()->Swap(endpoints->mutable_endpoints());
  auto users = client.ListUsers();
  if (!users.ok()) return fail(users.status());
  config.mutable_users()->Swap(users->mutable_users());
  auto overrides = client.ListToolOverrides();
  if (!overrides.ok()) return fail(overrides.status());
  config.mutable_tool_overrides()->Swap(overrides->mutable_tool_overrides());
  if (!command.json) {
    out << "# Switchboard configuration exported by sbctl; `sbctl apply -f` reproduces it.\n"
        << (command.show_secrets ? "# Secrets are in clear: keep this file safe.\n"
                                 : "# Secrets read \"***\": apply keeps the stored values.\n")
        << "# API keys are not exported (their clear keys are never stored).\n";
  }
  PrintDocument(command, config::DeclarativeDocument(config), out);
  return kExitOk;
}

// The `mcpServers` map of a Claude Desktop / Cursor configuration file, as a declarative
// document ParseDeclarative reads.
absl::StatusOr<std::string> McpServersDocument(const std::string& text) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(text, ec);
  if (ec) return absl::InvalidArgumentError(StrCat("not valid JSON: ", ec.message()));
  const boost::json::value* servers = v.is_object() ? v.as_object().if_contains("mcpServers")
                                                    : nullptr;
  if (servers == nullptr || !servers->is_object()) {
    return absl::InvalidArgumentError("mcpServers: expected an object of servers");
  }
  return boost::json::serialize(boost::json::object{{"mcpServers", *servers}});
}

// Adds `servers` to the end of namespace `name` (creating it when missing), keeping the
// members it has.
int AddToNamespace(const Command& command, const v1::ApplyRequest& imported,
                   RegistryClient& client, std::ostream& out, std::ostream& err) {
  v1::Namespace ns;
  ns.set_name(command.namespace_name);
  int64_t revision = 0;
  absl::StatusOr<std::pair<v1::Change, int64_t>> found =
      client.Get(v1::Change::NAMESPACE, command.namespace_name);
  if (found.ok()) {
    ns = found->first.namespace_();
    revision = found->second;
  } else if (!absl::IsNotFound(found.status())) {
    return RegistryError(command, found.status(), err);
  }
  std::vector<std::string> added;
  for (const v1::Server& s : imported.servers()) {
    bool member = false;
    for (const auto& m : ns.servers()) member = member || m.server() == s.name();
    if (member) continue;
    ns.add_servers()->set_server(s.name());
    added.push_back(s.name());
  }
  std::string verb = revision == 0 ? "created with" : "gets";
  if (added.empty()) {
    out << "namespace/" << ns.name() << " already holds every imported server\n";
    return kExitOk;
  }
  std::string list;
  for (const std::string& a : added) list += (list.empty() ? "" : ", ") + a;
  if (command.dry_run) {
    out << "namespace/" << ns.name() << " " << verb << " " << list
        << " (dry run: nothing written)\n";
    return kExitOk;
  }
  absl::StatusOr<v1::NamespaceResponse> put = client.PutNamespace(ns, revision);
  if (!put.ok()) return RegistryError(command, put.status(), err);
  out << "namespace/" << ns.name() << " " << (revision == 0 ? "created with" : "added") << " "
      << list << "\n";
  return kExitOk;
}

int ImportMcpServers(const Command& command, RegistryClient& client, std::ostream& out,
                     std::ostream& err) {
  absl::StatusOr<std::string> text = ReadInput(command.file);
  if (!text.ok()) {
    err << "sbctl: " << command.file << ": " << MessageOf(text.status()) << "\n";
    return kExitInput;
  }
  absl::StatusOr<std::string> doc = McpServersDocument(*text);
  absl::StatusOr<v1::ApplyRequest> request =
      doc.ok() ? config::ParseDeclarative(*doc, &Getenv) : doc.status();
  if (!request.ok()) {
    err << "sbctl: " << command.file << ": " << MessageOf(request.status()) << "\n";
    return kExitInput;
  }
  if (request->servers_size() == 0) {
    err << "sbctl: " << command.file << ": mcpServers: no servers to import\n";
    return kExitInput;
  }
  int code = ApplyRequestAndPrint(command, *request, client, out, err);
  if (code != kExitOk || command.namespace_name.empty()) return code;
  return AddToNamespace(command, *request, client, out, err);
}

int CreateApiKey(const Command& command, RegistryClient& client, std::ostream& out,
                 std::ostream& err) {
  v1::CreateApiKeyRequest request;
  request.set_user_email(command.user_email);
  request.set_name(command.key_name);
  if (command.expires_in_seconds > 0) {
    request.set_expires_unix(NowUnix() + command.expires_in_seconds);
  }
  for (const std::string& e : command.endpoints) request.add_endpoints(e);
  absl::StatusOr<v1::CreateApiKeyResponse> response = client.CreateApiKey(request);
  if (!response.ok()) return RegistryError(command, response.status(), err);
  if (command.json) {
    boost::json::object o;
    o["id"] = response->api_key().id();
    o["key"] = response->key();
    out << boost::json::serialize(o) << "\n";
  } else {
    out << response->key() << "\n";
  }
  err << "sbctl: API key " << response->api_key().id() << " created for "
      << response->api_key().user_email()
      << "; this is the only time it is shown, store it now (it cannot be shown again)\n";
  return kExitOk;
}

int Delete(const Command& command, RegistryClient& client, std::ostream& out, std::ostream& err) {
  v1::DeleteRequest request;
  request.set_kind(command.kind);
  request.set_name(command.name);
  absl::StatusOr<v1::DeleteResponse> response = client.Delete(request);
  if (!response.ok()) return RegistryError(command, response.status(), err);
  out << KindName(command.kind) << "/" << command.name << " deleted\n";
  return kExitOk;
}

// A response as a document for -o json / -o yaml, with the proto's field names.
void PrintMessage(const Command& command, const google::protobuf::Message& message,
                  std::ostream& out) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  boost::json::value doc = boost::json::parse(json);
  PrintDocument(command, doc.as_object(), out);
}

int GetSessions(const Command& command, RegistryClient& client, std::ostream& out,
                std::ostream& err) {
  v1::ListSessionsRequest request;
  request.set_user_email(command.user_email);
  absl::StatusOr<v1::ListSessionsResponse> response = client.ListSessions(request);
  if (!response.ok()) return RegistryError(command, response.status(), err);
  if (command.json || command.yaml) {
    PrintMessage(command, *response, out);
  } else if (response->sessions().empty()) {
    err << "sbctl: no sessions found for " << command.user_email << "\n";
  } else {
    out << FormatSessions(*response);
  }
  return kExitOk;
}

int DeleteSessions(const Command& command, RegistryClient& client, std::ostream& out,
                   std::ostream& err) {
  v1::EndSessionsRequest request;
  request.set_user_email(command.user_email);
  request.set_id(command.name);
  absl::StatusOr<v1::EndSessionsResponse> response = client.EndSessions(request);
  if (!response.ok()) return RegistryError(command, response.status(), err);
  out << response->ended() << (response->ended() == 1 ? " session" : " sessions") << " of "
      << command.user_email << " ended\n";
  return kExitOk;
}

int Audit(const Command& command, RegistryClient& client, std::ostream& out, std::ostream& err) {
  v1::ListToolCallsRequest request;
  request.set_user_email(command.user_email);
  if (command.since_seconds > 0) {
    request.set_since_unix(std::max<int64_t>(1, NowUnix() - command.since_seconds));
  }
  request.set_limit(command.limit);
  absl::StatusOr<v1::ListToolCallsResponse> response = client.ListToolCalls(request);
  if (!response.ok()) return RegistryError(command, response.status(), err);
  if (command.json || command.yaml) {
    PrintMessage(command, *response, out);
  } else if (response->calls().empty()) {
    err << "sbctl: no tool calls found\n";
  } else {
    out << FormatToolCalls(*response);
  }
  return kExitOk;
}

}  // namespace

int Execute(const Command& command, RegistryClient& client, std::ostream& out, std::ostream& err) {
  switch (command.verb) {
    case Verb::kApply:
      return Apply(command, client, out, err);
    case Verb::kGet:
      return Get(command, client, out, err);
    case Verb::kDescribe:
      return Describe(command, client, out, err);
    case Verb::kExport:
      return Export(command, client, out, err);
    case Verb::kImportMcpServers:
      return ImportMcpServers(command, client, out, err);
    case Verb::kCreateApiKey:
      return CreateApiKey(command, client, out, err);
    case Verb::kDelete:
      return Delete(command, client, out, err);
    case Verb::kGetSessions:
      return GetSessions(command, client, out, err);
    case Verb::kDeleteSessions:
      return DeleteSessions(command, client, out, err);
    case Verb::kAudit:
      return Audit(command, client, out, err);
    case Verb::kHelp:
      out << Usage();
      return kExitOk;
    case Verb::kRunnerPs:
    case Verb::kRunnerRestart:
    case Verb::kRunnerDrain:
    case Verb::kLogs:
      break;  // ExecuteRunner's
  }
  return kExitInput;
}

namespace {

int RunnerPs(const Command& command, RunnerClient& client, std::ostream& out, std::ostream& err) {
  absl::StatusOr<runner::v1::ListProcessesResponse> list = client.ListProcesses();
  if (!list.ok()) return ServiceError("runner", command.runner, list.status(), err);
  if (command.json) {
    // Fields at their defaults stay out (a process not running has no "pid"): scripts select
    // on their presence.
    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    options.preserve_proto_field_names = true;
    (void)google::protobuf::util::MessageToJsonString(*list, &json, options);
    out << json;
    return kExitOk;
  }
  out << FormatProcesses(*list);
  return kExitOk;
}

}  // namespace

int ExecuteRunner(const Command& command, RunnerClient& client, std::ostream& out,
                  std::ostream& err) {
  switch (command.verb) {
    case Verb::kRunnerPs:
      return RunnerPs(command, client, out, err);
    case Verb::kRunnerRestart: {
      absl::Status restarted = client.RestartServer(command.name);
      if (!restarted.ok()) return ServiceError("runner", command.runner, restarted, err);
      out << "server/" << command.name << " restarted\n";
      return kExitOk;
    }
    case Verb::kRunnerDrain: {
      absl::StatusOr<int64_t> drained = client.DrainServer(command.name);
      if (!drained.ok()) return ServiceError("runner", command.runner, drained.status(), err);
      out << "server/" << command.name << " draining (" << *drained << " processes)\n";
      return kExitOk;
    }
    case Verb::kLogs: {
      absl::StatusOr<runner::v1::ServerLogsResponse> logs =
          client.ServerLogs(command.name, command.lines);
      if (!logs.ok()) return ServiceError("runner", command.runner, logs.status(), err);
      for (const std::string& line : logs->lines()) out << line << "\n";
      return kExitOk;
    }
    default:
      return kExitInput;
  }
}

}  // namespace switchboard::sbctl
