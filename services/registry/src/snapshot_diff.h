#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <vector>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::registry {

// A tool override's key, as Change.name carries it: "namespace/server/tool".
std::string ToolOverrideKey(const v1::ToolOverride& override_);

// The object a change carries (its server, namespace, ... field), or nullptr for a delete.
const google::protobuf::Message* ChangeObject(const v1::Change& change);

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

// What an Apply does (or, in a dry run, would do).
struct ApplyPlan {
  // The writes, with secrets in clear: UPSERTs by kind in dependency order (servers,
  // namespaces, endpoints, users, tool overrides) and request order within a kind, then in
  // PRUNE mode the DELETEs in the reverse order.
  std::vector<v1::Change> changes;
  // Every requested object (added, changed or unchanged), then every removed one: the
  // ApplyResponse.diff, secrets masked.
  std::vector<v1::ObjectDiff> diff;
};

// The plan for an Apply of `request` (already checked by config::ValidateApply) onto `current`,
// by `request.mode()`: UPSERT writes each requested object that is new or differs from its
// stored form; CREATE_ONLY only the new ones; PRUNE upserts, then deletes every stored server,
// namespace, endpoint, user and tool override the request does not name (never an API key).
// A requested server secret that reads "***" keeps the stored value (InvalidArgument naming
// the field, "servers[0].env.TOKEN: ...", when none is stored).
absl::StatusOr<ApplyPlan> PlanApply(const v1::Snapshot& current, const v1::ApplyRequest& request);

// The fields that differ between two objects of the same kind (the object fields of `before`
// and `after`), in field order, map entries one by one in key order; secret values are masked.
std::vector<v1::FieldChange> FieldChanges(const v1::Change& before, const v1::Change& after);

// `snapshot` with `changes` applied in order: an UPSERT replaces the object with its key (or
// adds it), a DELETE removes it. The revision is left as it is.
v1::Snapshot ApplyChanges(v1::Snapshot snapshot, const std::vector<v1::Change>& changes);

// DELETE changes for the tool overrides of `snapshot` whose server is no longer a member of
// their namespace: they would hide or rename nothing, and a later apply of an export would
// refuse them. Deleting them goes with the membership change that orphaned them.
std::vector<v1::Change> OrphanedOverrideDeletes(const v1::Snapshot& snapshot);

// Sorts every list of a snapshot by key, so equal configurations serialize equally.
void SortSnapshot(v1::Snapshot* snapshot);

}  // namespace switchboard::registry
