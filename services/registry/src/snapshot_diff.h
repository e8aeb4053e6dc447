#pragma once

#include <string>
#include <vector>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::registry {

// A tool override's key, as Change.name carries it: "namespace/server/tool".
std::string ToolOverrideKey(const v1::ToolOverride& override_);

// An UPSERT change carrying `object`, with its kind and key set.
v1::Change UpsertChange(const v1::Server& object);
v1::Change UpsertChange(const v1::Namespace& object);
v1::Change UpsertChange(const v1::Endpoint& object);
v1::Change UpsertChange(const v1::User& object);
v1::Change UpsertChange(const v1::ApiKey& object);
v1::Change UpsertChange(const v1::ToolOverride& object);

// The changes that turn `before` into `after`, matching objects by kind and key (server,
// namespace and endpoint name, user email, API key id, tool override key): an UPSERT carrying the
// whole new object for each one that is new or different, a DELETE (kind and key only) for each one
// that is gone. Upserts come first, in dependency order (servers, namespaces, endpoints,
// users, API keys, tool overrides), then deletes in the reverse order, so a consumer applying them
// one by one never holds a reference to a deleted object. Equal snapshots give no changes.
std::vector<v1::Change> DiffSnapshots(const v1::Snapshot& before, const v1::Snapshot& after);

// The changes an Apply of `request` makes to `current`: an UPSERT for each requested server,
// namespace, endpoint and user that is new or differs from its stored form, in request order
// within each kind. Objects the request does not mention are left alone (no deletes).
std::vector<v1::Change> PlanApply(const v1::Snapshot& current, const v1::ApplyRequest& request);

// Sorts every list of a snapshot by key, so equal configurations serialize equally.
void SortSnapshot(v1::Snapshot* snapshot);

}  // namespace switchboard::registry
