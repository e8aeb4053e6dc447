#pragma once

#include <string>
#include <vector>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::sbctl {

// Lays out rows as left-aligned columns separated by three spaces (the first row is the
// header), one line per row, no trailing spaces.
std::string FormatTable(const std::vector<std::vector<std::string>>& rows);

// One line per object in the request, in file order by kind: "<kind>/<name> configured" when
// the registry created or changed it, "<kind>/<name> unchanged" otherwise, with " (dry run)"
// appended when nothing was written.
std::string FormatApplyResult(const registry::v1::ApplyRequest& request,
                              const registry::v1::ApplyResponse& response);

// Tables for `sbctl get`. They show names of secrets (env variables, headers, whether a
// bearer token is set), never values.
std::string FormatServers(const registry::v1::ListServersResponse& response);
std::string FormatNamespaces(const registry::v1::ListNamespacesResponse& response);
std::string FormatEndpoints(const registry::v1::ListEndpointsResponse& response);
std::string FormatUsers(const registry::v1::ListUsersResponse& response);

// The object kind as sbctl spells it ("server", "namespace", "endpoint", "user", "apikey").
std::string KindName(registry::v1::Change::Kind kind);

}  // namespace switchboard::sbctl
