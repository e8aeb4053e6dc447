#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <string_view>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::config {

// Parses a declarative switchboard.yaml into the registry's ApplyRequest and validates it.
//
// The vocabulary is the `provision:` block of MetaMCP's Helm chart (accepted at the top level
// or under `provision:`): `servers` (name, type STDIO|SSE|STREAMABLE_HTTP, command/args/env or
// url/bearerToken/headers), `namespaces` (name, description, servers: names or
// {name, active}), `endpoints` (name, namespace, enableApiKeyAuth, useQueryParamAuth,
// enableOauth), `users` (email, name). A Claude-Desktop-style `mcpServers` map is imported as
// servers. Errors are one line naming the field, e.g. "servers[1].type: must be one of ...".
absl::StatusOr<registry::v1::ApplyRequest> ParseDeclarative(std::string_view yaml_text);

// Checks references and names across a whole request (a server named in a namespace exists,
// names are well formed, no duplicates). ParseDeclarative calls it; registry calls it again.
absl::Status ValidateApply(const registry::v1::ApplyRequest& request);

// Checks a server, namespace or endpoint name: 1-64 of [A-Za-z0-9_-], no "__" (the prefix
// separator).
absl::Status ValidateName(std::string_view name);

}  // namespace switchboard::config
