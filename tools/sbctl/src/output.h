#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "switchboard/registry/v1/registry.pb.h"
#include "switchboard/runner/v1/runner.pb.h"

namespace switchboard::sbctl {

// Lays out rows as left-aligned columns separated by three spaces (the first row is the
// header), one line per row, no trailing spaces.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

// What `sbctl apply` prints: one line per object of the response's diff, in its order,
// "+ server/a (added)", "~ server/b (changed)" followed by an indented "field: before -> after"
// line per changed field (secrets masked as ***; "(none)" for an absent value), "- ... (removed)"
// and "= ... (unchanged)", then "N added, N changed, N removed, N unchanged" with
// " (dry run: nothing written)" appended when nothing was written.
std::string FormatApplyDiff(const registry::v1::ApplyResponse& response, bool dry_run);

// Tables for `sbctl get`. They show names of secrets (env variables, headers, whether a
// bearer token is set), never values.
std::string FormatServers(const registry::v1::ListServersResponse& response);
std::string FormatNamespaces(const registry::v1::ListNamespacesResponse& response);
std::string FormatEndpoints(const registry::v1::ListEndpointsResponse& response);
std::string FormatUsers(const registry::v1::ListUsersResponse& response);
std::string FormatApiKeys(const registry::v1::ListApiKeysResponse& response);
std::string FormatToolOverrides(const registry::v1::ListToolOverridesResponse& response);

// Tables for `sbctl get sessions`, `sbctl audit` and `sbctl runner ps`; times in UTC
// ("2026-11-21 18:40 UTC").
std::string FormatSessions(const registry::v1::ListSessionsResponse& response);
std::string FormatToolCalls(const registry::v1::ListToolCallsResponse& response);
std::string FormatProcesses(const runner::v1::ListProcessesResponse& response);

// One kind of object as sbctl names it on the command line and in its output.
struct KindInfo {
  registry::v1::Change::Kind kind;
  const char* singular;  // "server", "apikey", "tooloverride": also the output prefix
  const char* plural;    // "servers": also the key of a declarative file
  const char* alias;     // another spelling accepted ("api-key"), or ""
};

// The kinds sbctl handles, in dependency order.
const std::vector<KindInfo>& Kinds();
// The kind a command-line word names (singular, plural or alias, plural of the alias too), or
// nullptr.
const KindInfo* FindKind(std::string_view word);
// "servers, namespaces, ...": for usage errors.
std::string KindList();

// The object kind as sbctl spells it ("server", "namespace", "endpoint", "user", "apikey",
// "tooloverride").
std::string KindName(registry::v1::Change::Kind kind);

}  // namespace switchboard::sbctl
