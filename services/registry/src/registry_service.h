#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "services/registry/src/config_store.h"
#include "services/registry/src/store_pool.h"
#include "services/registry/src/watch_hub.h"
#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::registry {

// Tuning of a RegistryService; the defaults suit production.
struct RegistryOptions {
  int pool_threads = 2;     // store workers, each with its own connection
  size_t max_queued = 256;  // requests waiting for a worker before new ones are refused
  std::chrono::milliseconds poll_interval{3000};  // revision check when no notification came
  std::chrono::milliseconds retry_backoff{1000};  // wait after the change feed failed
};

// The registry's logic, free of gRPC: validates admin requests, runs their store work on a
// bounded pool of workers (never on the caller's thread), blanks secrets in what it returns,
// mints API keys, and keeps a WatchHub current by following the store's change notifications
// (with a periodic revision check in case one is missed).
//
// A write is published to this replica's watchers before it is acknowledged.
//
// Each request method calls `done` exactly once: from a pool thread with the result, or on
// the caller's thread when the request is invalid or the pool refuses it (busy or stopping).
class RegistryService {
 public:
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  RegistryService(ConfigStoreFactory factory, RegistryOptions options = {});
  ~RegistryService();

  RegistryService(const RegistryService&) = delete;
  RegistryService& operator=(const RegistryService&) = delete;

  // Starts listening for changes, loads the first snapshot (so every Watch starts from one),
  // then starts the pool and the change follower. Fails when the store cannot be read.
  absl::Status Start();

  // Ends every Watch stream, stops following changes, finishes queued requests and stops the
  // pool. Idempotent.
  void Stop();

  // Validates with config::ValidateApply (InvalidArgument naming the field), then applies the
  // request in one transaction by its mode (upsert, create-only or prune; see PlanApply), or
  // with dry_run only computes the plan. The response lists the writes (secrets blanked) and
  // the diff of every object requested or removed (secrets masked).
  // `actor` (the caller, for the audit log) defaults to "unknown" in every write.
  void Apply(v1::ApplyRequest request, Done<v1::ApplyResponse> done,
             std::string actor = kUnknownActor);

  // The stored objects, sorted by key, server secrets blanked (unless `include_secrets`, for
  // an export: that read is logged, naming `actor`).
  void ListServers(Done<v1::ListServersResponse> done, bool include_secrets = false,
                   std::string actor = kUnknownActor);
  void ListNamespaces(Done<v1::ListNamespacesResponse> done);
  void ListEndpoints(Done<v1::ListEndpointsResponse> done);
  void ListUsers(Done<v1::ListUsersResponse> done);

  // Mints "sk_sb_" + 64 hex characters for an existing user (NotFound otherwise), stores only
  // its SHA-256 and prefix (with the optional expiry, which must be in the future, and
  // endpoint scope, which must name existing endpoints), and returns the clear key: the only
  // time it is ever available.
  void CreateApiKey(const v1::CreateApiKeyRequest& request, Done<v1::CreateApiKeyResponse> done,
                    std::string actor = kUnknownActor);

  // Deletes one object by kind and key (revoking an API key); see ConfigStore::Delete. `check`
  // (optional) may refuse it by the stored object.
  void Delete(v1::DeleteRequest request, Done<v1::DeleteResponse> done,
              std::string actor = kUnknownActor, StoredCheck check = {});

  // One object (server, namespace, endpoint, user or tool override) with the revision at
  // which it last changed, server secrets blanked. NotFound when it does not exist.
  void Get(v1::Change::Kind kind, std::string key, Done<StoredObject> done);

  // Creates or replaces one object: `object` is UpsertChange(the object). See ConfigStore::Put
  // for the checks and errors; an update without expected_revision is InvalidArgument. The
  // write reaches this replica's watchers before the answer, which is the object as stored
  // (server secrets blanked) with its new revision. `check` (optional) may refuse the write by
  // the object it would replace; see ConfigStore::Put.
  void Put(WriteMode mode, v1::Change object, int64_t expected_revision, std::string actor,
           Done<StoredObject> done, StoredCheck check = {});

  // Tool overrides, all or one namespace's, sorted by key.
  void ListToolOverrides(v1::ListToolOverridesRequest request,
                         Done<v1::ListToolOverridesResponse> done);

  // API keys, all or one user's, sorted by id, without their hashes.
  void ListApiKeys(v1::ListApiKeysRequest request, Done<v1::ListApiKeysResponse> done);

  // Audit rows, newest first, filtered by kind, key and time; `limit` 0 means 100, and more
  // than 1000 is InvalidArgument.
  void ListAudit(v1::ListAuditRequest request, Done<v1::ListAuditResponse> done);

  // Stores auth's report of key use (at most 10000 uses per call).
  void RecordApiKeyUse(v1::RecordApiKeyUseRequest request,
                       Done<v1::RecordApiKeyUseResponse> done);
  // Keeps the tool names the router saw per server (bounded: InvalidArgument past the bounds).
  void RecordServerTools(v1::RecordServerToolsRequest request,
                         Done<v1::RecordServerToolsResponse> done);

  // Stores drained tools/call records (by their Redis stream entry ids; see
  // ConfigStore::RecordToolCalls), and lists them (limit: default 100, at most 1000).
  void RecordToolCalls(std::vector<std::pair<std::string, v1::ToolCall>> calls,
                       Done<bool> done);
  void ListToolCalls(v1::ListToolCallsRequest request, Done<v1::ListToolCallsResponse> done);

  // The feed behind the Watch RPC.
  WatchHub& watch_hub() { return hub_; }

 private:
  template <typename T, typename Work>
  void RunOnPool(std::string_view what, Done<T> done, Work work);
  void Follow();
  // Reloads the snapshot into the hub when the stored revision moved.
  void Refresh();
  // Publishes what `store` just wrote before the write is acknowledged, so a Watch opened on
  // this replica afterwards already sees it (the notification path follows up for others).
  void PublishAfterWrite(ConfigStore& store);

  ConfigStoreFactory factory_;
  RegistryOptions options_;
  WatchHub hub_;
  std::unique_ptr<StorePool> pool_;
  std::unique_ptr<ConfigStore> follower_store_;  // used by the follower thread only
  std::thread follower_;

  std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by mu_
};

}  // namespace switchboard::registry
