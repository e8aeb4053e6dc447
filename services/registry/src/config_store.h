#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::registry {

// What an Apply did (or, in a dry run, would do).
struct ApplyOutcome {
  int64_t revision = 0;             // the revision after the apply (unchanged in a dry run)
  std::vector<v1::Change> changes;  // with secrets in clear: callers blank them for display
};

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

  // Upserts the request's servers, namespaces (with their ordered members), endpoints and
  // users by key in one transaction: either all of them are written or none is. Objects the
  // request does not mention are left alone. With `request.dry_run()` the same changes are
  // computed and nothing is written. Expects a request that passed config::ValidateApply.
  virtual absl::StatusOr<ApplyOutcome> Apply(const v1::ApplyRequest& request) = 0;

  // Deletes one object (server, namespace or endpoint by name, user by email, API key by id)
  // and returns the new revision. NotFound when it does not exist; FailedPrecondition when
  // another object still refers to it (a server in a namespace, a namespace behind an
  // endpoint). Deleting a user deletes its API keys.
  virtual absl::StatusOr<int64_t> Delete(v1::Change::Kind kind, const std::string& key) = 0;

  // Stores an API key (its hash, prefix and name; `key.key_sha256` must be set) for an existing
  // user and returns it with `created_unix` filled in. NotFound when the user does not exist.
  virtual absl::StatusOr<v1::ApiKey> InsertApiKey(const v1::ApiKey& key) = 0;

  // Waits up to `timeout` for news that the configuration may have changed: a change
  // notification, or a (re)connection after which notifications may have been missed. The
  // first call starts listening. False on a quiet timeout.
  virtual absl::StatusOr<bool> WaitForChange(std::chrono::milliseconds timeout) = 0;
};

// Makes a store with its own connection; each pool thread and the change follower own one.
using ConfigStoreFactory = std::function<std::unique_ptr<ConfigStore>()>;

}  // namespace switchboard::registry
