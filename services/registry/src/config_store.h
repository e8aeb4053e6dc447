#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "services/registry/src/snapshot_diff.h"
#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::registry {

// What an Apply did (or, in a dry run, would do).
struct ApplyOutcome {
  int64_t revision = 0;             // the revision after the apply (unchanged in a dry run)
  std::vector<v1::Change> changes;  // with secrets in clear: callers blank them for display
  std::vector<v1::ObjectDiff> diff;  // every object requested or removed, secrets masked
};

// Who makes a write, as the audit log records it when the caller gave no name.
inline constexpr char kUnknownActor[] = "unknown";

// One object as stored, with the revision at which it last changed.
struct StoredObject {
  v1::Change object;  // kind, name (the key) and the object's field; op unset
  int64_t revision = 0;
};

// A check of the stored object a write would replace or delete (e.g. who may touch it): a
// non-OK status refuses the write with that status.
using StoredCheck = std::function<absl::Status(const v1::Change& stored)>;

// Whether a Put creates a new object or replaces an existing one.
enum class WriteMode { kCreate, kUpdate };

// The configuration of record, as the registry logic sees it. One instance is used by one
// thread at a time (it owns one database connection); every call is blocking and reports
// errors as absl::Status, never by throwing.
class ConfigStore {
 public:
  virtual ~ConfigStore() = default;

  // The whole configuration read at one consistent revision: servers with their secrets, API
  // keys with their SHA-256 (never a clear key), every list sorted by key.
  virtual absl::StatusOr<v1::Snapshot> LoadSnapshot() = 0;

  // The current revision of the configuration.
  virtual absl::StatusOr<int64_t> LoadRevision() = 0;

  // Writes the request's servers, namespaces (with their ordered members), endpoints, users
  // and tool overrides by key in one transaction, following `request.mode()` (see PlanApply:
  // upsert, create-only, or prune, which also deletes what the request does not name): either
  // every write happens or none does. With `request.dry_run()` the same plan is computed and
  // nothing is written. Expects a request that passed config::ValidateApply. Each object
  // written or deleted gets an audit row (action "apply") naming `actor`.
  virtual absl::StatusOr<ApplyOutcome> Apply(const v1::ApplyRequest& request,
                                             const std::string& actor) = 0;
  absl::StatusOr<ApplyOutcome> Apply(const v1::ApplyRequest& request) {
    return Apply(request, kUnknownActor);
  }

  // Deletes one object (server, namespace or endpoint by name, user by email, API key by id,
  // tool override by "namespace/server/tool"), records it in the audit log and returns the new
  // revision. NotFound when it does not exist; FailedPrecondition when another object still
  // refers to it (a server in a namespace, a namespace behind an endpoint). Deleting a user
  // deletes its API keys; deleting a namespace its tool overrides. `check` (when set) sees the
  // stored object first, in the same transaction: its refusal is returned and nothing deleted.
  virtual absl::StatusOr<int64_t> Delete(v1::Change::Kind kind, const std::string& key,
                                         const std::string& actor, const StoredCheck& check) = 0;
  absl::StatusOr<int64_t> Delete(v1::Change::Kind kind, const std::string& key,
                                 const std::string& actor) {
    return Delete(kind, key, actor, StoredCheck());
  }
  absl::StatusOr<int64_t> Delete(v1::Change::Kind kind, const std::string& key) {
    return Delete(kind, key, kUnknownActor);
  }

  // Stores an API key (its hash, prefix, name, expiry and endpoint scope; `key.key_sha256` must
  // be set) for an existing user, records it in the audit log (without the hash) and returns it
  // with `created_unix` filled in. NotFound when the user does not exist; InvalidArgument
  // ("endpoints[1]: unknown endpoint 'x'") when a scoped endpoint does not.
  virtual absl::StatusOr<v1::ApiKey> InsertApiKey(const v1::ApiKey& key,
                                                  const std::string& actor) = 0;
  absl::StatusOr<v1::ApiKey> InsertApiKey(const v1::ApiKey& key) {
    return InsertApiKey(key, kUnknownActor);
  }

  // One object of kind SERVER, NAMESPACE, ENDPOINT, USER, API_KEY or TOOL_OVERRIDE by key,
  // secrets in clear. NotFound when it does not exist.
  virtual absl::StatusOr<StoredObject> Get(v1::Change::Kind kind, const std::string& key) = 0;

  // Creates or replaces one object (a server, namespace, endpoint, user or tool override: the
  // field of `object` matching its kind; its key comes from the object) in one transaction that
  // also writes its audit row, and returns it as stored with its new revision. In order:
  // InvalidArgument naming the field when the object is invalid against the stored
  // configuration (see registry ValidateObject); AlreadyExists when creating an existing key;
  // NotFound when updating a missing one; FailedPrecondition naming the current revision when
  // an update's `expected_revision` is not the object's revision. An update's server secrets
  // that read "***" keep their stored values. `check` (when set) sees the stored object it would
  // replace before any of that, in the same transaction: its refusal is returned and nothing
  // written.
  virtual absl::StatusOr<StoredObject> Put(WriteMode mode, const v1::Change& object,
                                           int64_t expected_revision, const std::string& actor,
                                           const StoredCheck& check) = 0;

  // Audit rows matching the request's filters, newest first, at most `request.limit()` (the
  // caller has bounded it).
  virtual absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(
      const v1::ListAuditRequest& request) = 0;

  // Keeps, per API key id, the latest of the stored and the reported last use (unix seconds);
  // ids of keys that do not exist are ignored. Not configuration: no revision, no audit.
  virtual absl::Status RecordApiKeyUse(const std::vector<v1::ApiKeyUse>& uses) = 0;
  // Stores tools/call records, each under the Redis stream entry id it was drained from; an id
  // already stored is skipped, so a batch may be stored twice. Not configuration.
  virtual absl::Status RecordToolCalls(
      const std::vector<std::pair<std::string, v1::ToolCall>>& calls) = 0;
  // Stored tools/call records matching the filters, newest first, at most `request.limit()`.
  virtual absl::StatusOr<std::vector<v1::ToolCall>> ListToolCalls(
      const v1::ListToolCallsRequest& request) = 0;
  // Last use by API key id, for the keys used at least once.
  virtual absl::StatusOr<std::map<std::string, int64_t>> LoadApiKeyUse() = 0;

  // Replaces, per server, the tool names it last reported; servers that do not exist are
  // ignored. Not configuration: no revision, no audit. Apply, namespace and tool override
  // writes check tool names against them (see CheckToolNames).
  virtual absl::Status RecordServerTools(const std::vector<v1::ServerTools>& servers) = 0;

  // Waits up to `timeout` for news that the configuration may have changed: a change
  // notification, or a (re)connection after which notifications may have been missed. The
  // first call starts listening. False on a quiet timeout.
  virtual absl::StatusOr<bool> WaitForChange(std::chrono::milliseconds timeout) = 0;
};

// Makes a store with its own connection; each pool thread and the change follower own one.
using ConfigStoreFactory = std::function<std::unique_ptr<ConfigStore>()>;

}  // namespace switchboard::registry
