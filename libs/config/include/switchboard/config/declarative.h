#pragma once

#include <absl/status/statusor.h>

#include <boost/json.hpp>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::config {

// The value of an environment variable, or nullopt when it is not set.
using EnvLookup = std::function<std::optional<std::string>(const std::string& name)>;

// Parses a declarative switchboard.yaml into the registry's ApplyRequest and validates it.
//
// The vocabulary is the `provision:` block of MetaMCP's Helm chart (accepted at the top level
// or under `provision:`): `servers` (name, type STDIO|SSE|STREAMABLE_HTTP, command/args/env or
// url/bearerToken/headers, and for STDIO Switchboard's pool keys isolation, minProcesses,
// maxProcesses, maxInFlightPerProcess, queueSize, queueTimeoutMs, idleTimeoutMs,
// requestTimeoutMs, cwd, limitAddressSpaceMb, limitCpuSeconds, limitOpenFiles,
// limitProcesses), `namespaces` (name, description, servers: names or
// {name, active}, prefix), `endpoints` (name, namespace, enableApiKeyAuth, useQueryParamAuth,
// enableOauth, and Switchboard's userRequestsPerMinute, requestsPerMinute, allowedOrigins,
// oauthIssuers, oauthJwksUrl, oauthRequiredScopes, oauthAudience),
// `users` (email, name, isAdmin or role: admin | member), and Switchboard's `toolOverrides`
// (namespace, server, tool, name, title, description, annotations, disabled,
// userRequestsPerMinute). A Claude-Desktop-style `mcpServers` map is imported as servers (a url
// without a type is SSE when it ends in /sse, else STREAMABLE_HTTP). Errors are one line naming
// the field, e.g. "servers[1].type: must be ...".
//
// With `lookup_env`, every `${VAR}` inside a string value is replaced by the variable's value
// first, anywhere in the string ("prefix-${VAR}-suffix"); `$${` stands for a literal `${`. A
// variable that is not set is an error naming the field and the variable
// ("servers[1].env.TOKEN: environment variable GITHUB_TOKEN is not set").
absl::StatusOr<registry::v1::ApplyRequest> ParseDeclarative(std::string_view yaml_text,
                                                            const EnvLookup& lookup_env = {});

// The declarative form of a configuration: a document ParseDeclarative reads back into exactly
// `config` (every field written, defaults included; "${" escaped as "$${"). API keys are not
// part of it (their clear keys are never stored). Keys: servers, namespaces, endpoints, users,
// toolOverrides, each present only when it has objects.
boost::json::object DeclarativeDocument(const registry::v1::ApplyRequest& config);

// The same for a single object, as it appears in a DeclarativeDocument list.
boost::json::object DeclarativeObject(const registry::v1::Server& server);
boost::json::object DeclarativeObject(const registry::v1::Namespace& ns);
boost::json::object DeclarativeObject(const registry::v1::Endpoint& endpoint);
boost::json::object DeclarativeObject(const registry::v1::User& user);
boost::json::object DeclarativeObject(const registry::v1::ToolOverride& override_);

// Block-style YAML for a JSON value, keys in their order; strings are quoted whenever a YAML
// reader would otherwise take them for something else ("true", "", "1.0", "null").
std::string ToYaml(const boost::json::value& value);

// Checks references and names across a whole request (a server named in a namespace exists,
// names are well formed, no duplicates). ParseDeclarative calls it; registry calls it again.
absl::Status ValidateApply(const registry::v1::ApplyRequest& request);

// Checks a server, namespace or endpoint name: 1-64 of [A-Za-z0-9_-], no "__" (the prefix
// separator).
absl::Status ValidateName(std::string_view name);

// MCP's limit on a tool name's length.
inline constexpr size_t kMaxToolNameLength = 128;

// Whether a referenced object exists.
using NameExists = std::function<bool(const std::string& name)>;
// The namespace of that name, or nullptr.
using FindNamespace = std::function<const registry::v1::Namespace*(const std::string& name)>;

// One object's checks, shared by ValidateApply and the registry's admin API. Errors are
// INVALID_ARGUMENT with one line naming the field under `path` ("servers[0].url: required for
// type STREAMABLE_HTTP", "endpoint.namespace: unknown namespace 'x'").
absl::Status ValidateServer(const registry::v1::Server& server, std::string_view path);
// The process pool fields of a server (ValidateServer calls it): isolation is shared, per-user
// or per-session; numbers are within 0 (the runner's default) and a sane maximum; min does not
// exceed max; cwd is absolute; none of them set on a remote server.
absl::Status ValidateServerPool(const registry::v1::Server& server, std::string_view path);
// Members exist (`server_exists`) and appear once; the prefix may be off only with one server.
absl::Status ValidateNamespace(const registry::v1::Namespace& ns, std::string_view path,
                               const NameExists& server_exists);
// The namespace exists; rate limits are not negative; allowed origins are "*" or
// scheme://host[:port].
absl::Status ValidateEndpoint(const registry::v1::Endpoint& endpoint, std::string_view path,
                              const NameExists& namespace_exists);
absl::Status ValidateUser(const registry::v1::User& user, std::string_view path);
// The namespace exists and holds the server; the tool is named; a rename is a valid MCP tool
// name; annotations, when set, are a JSON object.
absl::Status ValidateToolOverride(const registry::v1::ToolOverride& override_,
                                  std::string_view path, const FindNamespace& find_namespace);

}  // namespace switchboard::config
