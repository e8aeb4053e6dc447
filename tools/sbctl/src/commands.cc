#include "tools/sbctl/src/commands.h"

#include <google/protobuf/util/json_util.h>

#include <boost/json.hpp>
#include <cerrno>
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

int RegistryError(const Command& command, const absl::Status& status, std::ostream& err) {
  std::string message(MessageOf(status));
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';  // one line, whatever the transport said
  }
  if (absl::IsUnavailable(status)) {
    err << "sbctl: registry at " << command.registry << " unavailable: " << message << "\n";
  } else if (absl::IsDeadlineExceeded(status)) {
    err << "sbctl: registry at " << command.registry << " did not answer in time\n";
  } else {
    err << "sbctl: " << message << "\n";
  }
  return kExitRegistry;
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

template <typename Message>
void PrintJson(const Message& message, std::ostream& out) {
  std::string json;
  google::protobuf::util::JsonPrintOptions options;
  options.add_whitespace = true;
  options.preserve_proto_field_names = true;
  (void)google::protobuf::util::MessageToJsonString(message, &json, options);
  out << json;
  if (json.empty() || json.back() != '\n') out << "\n";
}

int Apply(const Command& command, RegistryClient& client, std::ostream& out, std::ostream& err) {
  absl::StatusOr<std::string> text = ReadInput(command.file);
  if (!text.ok()) {
    err << "sbctl: " << command.file << ": " << MessageOf(text.status()) << "\n";
    return kExitInput;
  }
  absl::StatusOr<v1::ApplyRequest> request = config::ParseDeclarative(*text);
  if (!request.ok()) {
    err << "sbctl: " << command.file << ": " << MessageOf(request.status()) << "\n";
    return kExitInput;
  }
  request->set_dry_run(command.dry_run);
  absl::StatusOr<v1::ApplyResponse> response = client.Apply(*request);
  if (!response.ok()) return RegistryError(command, response.status(), err);
  out << FormatApplyResult(*request, *response);
  return kExitOk;
}

template <typename Response>
int Show(const Command& command, const absl::StatusOr<Response>& response, int count,
         std::string_view plural, std::string (*format)(const Response&), std::ostream& out,
         std::ostream& err) {
  if (!response.ok()) return RegistryError(command, response.status(), err);
  if (command.json) {
    PrintJson(*response, out);
  } else if (count == 0) {
    err << "sbctl: no " << plural << " found\n";
  } else {
    out << format(*response);
  }
  return kExitOk;
}

int Get(const Command& command, RegistryClient& client, std::ostream& out, std::ostream& err) {
  switch (command.kind) {
    case v1::Change::SERVER: {
      auto r = client.ListServers();
      return Show(command, r, r.ok() ? r->servers_size() : 0, "servers", &FormatServers, out, err);
    }
    case v1::Change::NAMESPACE: {
      auto r = client.ListNamespaces();
      return Show(command, r, r.ok() ? r->namespaces_size() : 0, "namespaces", &FormatNamespaces,
                  out, err);
    }
    case v1::Change::ENDPOINT: {
      auto r = client.ListEndpoints();
      return Show(command, r, r.ok() ? r->endpoints_size() : 0, "endpoints", &FormatEndpoints, out,
                  err);
    }
    case v1::Change::USER: {
      auto r = client.ListUsers();
      return Show(command, r, r.ok() ? r->users_size() : 0, "users", &FormatUsers, out, err);
    }
    default:
      err << "sbctl: nothing to get\n";
      return kExitInput;
  }
}

int CreateApiKey(const Command& command, RegistryClient& client, std::ostream& out,
                 std::ostream& err) {
  v1::CreateApiKeyRequest request;
  request.set_user_email(command.user_email);
  request.set_name(command.key_name);
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

}  // namespace

int Execute(const Command& command, RegistryClient& client, std::ostream& out, std::ostream& err) {
  switch (command.verb) {
    case Verb::kApply:
      return Apply(command, client, out, err);
    case Verb::kGet:
      return Get(command, client, out, err);
    case Verb::kCreateApiKey:
      return CreateApiKey(command, client, out, err);
    case Verb::kDelete:
      return Delete(command, client, out, err);
    case Verb::kHelp:
      out << Usage();
      return kExitOk;
  }
  return kExitInput;
}

}  // namespace switchboard::sbctl
