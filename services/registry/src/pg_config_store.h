#pragma once

#include <absl/status/statusor.h>

#include <memory>
#include <string>
#include <vector>

#include "services/registry/src/config_store.h"
#include "services/registry/src/migrations.h"

namespace switchboard::registry {

// The ConfigStore over Postgres (libpqxx). Owns one connection, opened on first use and opened
// again after it breaks; libpqxx exceptions never leave this class. Error messages are one
// line and never carry the connection password, a server's secrets or an API key.
class PgConfigStore final : public ConfigStore {
 public:
  // `url` is a libpq connection string (postgresql://user[:password]@host:port/db).
  explicit PgConfigStore(std::string url);
  ~PgConfigStore() override;

  PgConfigStore(const PgConfigStore&) = delete;
  PgConfigStore& operator=(const PgConfigStore&) = delete;

  // Opens the connection now if it is not open; Unavailable when Postgres cannot be reached.
  absl::Status Connect();

  absl::StatusOr<v1::Snapshot> LoadSnapshot() override;
  absl::StatusOr<int64_t> LoadRevision() override;
  using ConfigStore::Apply;
  using ConfigStore::Delete;
  using ConfigStore::InsertApiKey;
  absl::StatusOr<ApplyOutcome> Apply(const v1::ApplyRequest& request,
                                     const std::string& actor) override;
  absl::StatusOr<int64_t> Delete(v1::Change::Kind kind, const std::string& key,
                                 const std::string& actor, const StoredCheck& check) override;
  absl::StatusOr<v1::ApiKey> InsertApiKey(const v1::ApiKey& key, const std::string& actor) override;
  absl::StatusOr<StoredObject> Get(v1::Change::Kind kind, const std::string& key) override;
  absl::StatusOr<StoredObject> Put(WriteMode mode, const v1::Change& object,
                                   int64_t expected_revision, const std::string& actor,
                                   const StoredCheck& check) override;
  absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(
      const v1::ListAuditRequest& request) override;
  absl::Status RecordApiKeyUse(const std::vector<v1::ApiKeyUse>& uses) override;
  absl::Status RecordToolCalls(
      const std::vector<std::pair<std::string, v1::ToolCall>>& calls) override;
  absl::StatusOr<std::vector<v1::ToolCall>> ListToolCalls(
      const v1::ListToolCallsRequest& request) override;
  absl::StatusOr<std::map<std::string, int64_t>> LoadApiKeyUse() override;
  absl::Status RecordServerTools(const std::vector<v1::ServerTools>& servers) override;
  // LISTENs on the 'switchboard_config' channel on this store's connection.
  absl::StatusOr<bool> WaitForChange(std::chrono::milliseconds timeout) override;

 private:
  struct Conn;

  // Runs `body` once on the connection (opening one if needed), mapping libpqxx exceptions to
  // a Status; sets `broke` when the connection broke, which also drops it.
  template <typename T, typename Body>
  absl::StatusOr<T> RunOnce(std::string_view what, Body& body, bool* broke);
  // Runs `body`, trying once more on a new connection when a reused one turns out broken.
  template <typename T, typename Body>
  absl::StatusOr<T> Run(std::string_view what, Body&& body);

  std::string url_;
  std::unique_ptr<Conn> conn_;
};

// The Postgres NOTIFY channel that carries each new configuration revision.
inline constexpr char kConfigChannel[] = "switchboard_config";

// Brings the database at `url` up to date: applies, in order and each in its own transaction,
// every migration not yet recorded in schema_migrations. Holds a session advisory lock
// meanwhile, so registries starting together take turns and each migration runs once. Fails
// when a migration already applied has since changed (its SHA-256 differs). Returns how many
// migrations this call applied (0 when the schema was current).
absl::StatusOr<int> MigratePostgres(const std::string& url,
                                    const std::vector<Migration>& migrations);

}  // namespace switchboard::registry
