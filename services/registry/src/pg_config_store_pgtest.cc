#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <future>
#include <map>
#include <set>
#include <thread>

#include "services/registry/src/embedded_migrations.h"
#include "services/registry/src/pg_config_store.h"
#include "services/registry/src/registry_service.h"
#include "services/registry/src/snapshot_diff.h"
#include "services/registry/src/test_database.h"
#include "switchboard/common/crypto.h"

namespace switchboard::registry {
namespace {

using v1::Change;

std::vector<Migration> Migrations() {
  auto m = OrderMigrations(EmbeddedMigrationFiles());
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : std::vector<Migration>{};
}

v1::ApplyRequest Demo() {
  v1::ApplyRequest r;
  auto* everything = r.add_servers();
  everything->set_name("everything");
  everything->set_type("STDIO");
  everything->set_command("npx");
  everything->add_args("-y");
  everything->add_args("@modelcontextprotocol/server-everything");
  everything->add_args("stdio");
  (*everything->mutable_env())["LOG_LEVEL"] = "debug";
  (*everything->mutable_env())["TOKEN"] = "env-secret";
  auto* remote = r.add_servers();
  remote->set_name("remote");
  remote->set_type("STREAMABLE_HTTP");
  remote->set_url("https://example.test/mcp");
  remote->set_bearer_token("bearer-secret");
  (*remote->mutable_headers())["X-Api-Key"] = "header-secret";
  auto* ns = r.add_namespaces();
  ns->set_name("demo");
  ns->set_description("the demo namespace");
  ns->add_servers()->set_server("everything");
  auto* member = ns->add_servers();
  member->set_server("remote");
  member->set_disabled(true);
  auto* ep = r.add_endpoints();
  ep->set_name("demo");
  ep->set_namespace_("demo");
  ep->set_enable_api_key_auth(true);
  auto* user = r.add_users();
  user->set_email("dev@example.com");
  user->set_name("Dev");
  return r;
}

std::vector<std::string> Describe(const std::vector<Change>& changes) {
  std::vector<std::string> out;
  for (const Change& c : changes) {
    out.push_back(Change::Op_Name(c.op()) + " " + Change::Kind_Name(c.kind()) + " " + c.name());
  }
  return out;
}

class PgTest : public testing::Test {
 protected:
  void SetUp() override {
    auto db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
  }

  void Migrate() {
    absl::Status migrated = db_->Migrate();
    ASSERT_TRUE(migrated.ok()) << migrated;
  }

  int64_t Revision() {
    return std::stoll(db_->Query("SELECT revision FROM config_revision")[0][0]);
  }

  std::unique_ptr<TestDatabase> db_;
};

class PgStoreTest : public PgTest {
 protected:
  void SetUp() override {
    PgTest::SetUp();
    if (HasFatalFailure()) return;
    Migrate();
    store_ = std::make_unique<PgConfigStore>(db_->url());
  }

  ApplyOutcome MustApply(const v1::ApplyRequest& request) {
    auto outcome = store_->Apply(request);
    EXPECT_TRUE(outcome.ok()) << outcome.status();
    return outcome.ok() ? *outcome : ApplyOutcome{};
  }

  v1::Snapshot MustLoad() {
    auto snapshot = store_->LoadSnapshot();
    EXPECT_TRUE(snapshot.ok()) << snapshot.status();
    return snapshot.ok() ? *snapshot : v1::Snapshot{};
  }

  std::unique_ptr<PgConfigStore> store_;
};

TEST_F(PgTest, MigrationsApplyOnceAndAreIdempotent) {
  std::vector<Migration> migrations = Migrations();
  auto first = MigratePostgres(db_->url(), migrations);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(*first, static_cast<int>(migrations.size()));
  auto second = MigratePostgres(db_->url(), migrations);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(*second, 0);

  auto rows = db_->Query("SELECT version, name, sha256 FROM schema_migrations ORDER BY version");
  ASSERT_EQ(rows.size(), migrations.size());
  EXPECT_EQ(rows[0][0], "1");
  EXPECT_EQ(rows[0][1], "init");
  EXPECT_EQ(rows[0][2], migrations[0].sha256);
  for (const char* table : {"servers", "namespaces", "namespace_servers", "endpoints", "users",
                            "api_keys", "config_revision"}) {
    EXPECT_EQ(db_->Query(std::string("SELECT to_regclass('") + table + "') IS NOT NULL")[0][0], "t")
        << table;
  }
  EXPECT_EQ(Revision(), 1);
}

TEST_F(PgTest, AdminMigrationKeepsExistingRowsAndStampsTheirRevision) {
  std::vector<Migration> migrations = Migrations();
  ASSERT_GE(migrations.size(), 2u);
  auto first = MigratePostgres(db_->url(), {migrations[0]});
  ASSERT_TRUE(first.ok()) << first.status();
  db_->Query(
      "INSERT INTO servers (name, type, command) VALUES ('old', 'STDIO', 'x'); "
      "INSERT INTO namespaces (name) VALUES ('n'); "
      "INSERT INTO endpoints (name, namespace_name) VALUES ('e', 'n')");
  int64_t before = Revision();
  auto rest = MigratePostgres(db_->url(), migrations);
  ASSERT_TRUE(rest.ok()) << rest.status();
  EXPECT_EQ(Revision(), before);  // migrating is not a configuration change
  EXPECT_EQ(db_->Query("SELECT revision FROM servers")[0][0], std::to_string(before));
  EXPECT_EQ(db_->Query("SELECT user_requests_per_minute, allowed_origins::text FROM endpoints")[0],
            (std::vector<std::string>{"0", "[]"}));
  PgConfigStore store(db_->url());
  auto got = store.Get(Change::SERVER, "old");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->revision, before);
  EXPECT_EQ(got->object.server().command(), "x");
}

TEST_F(PgTest, RegistriesStartingTogetherMigrateOnce) {
  std::vector<Migration> migrations = Migrations();
  std::vector<std::future<absl::StatusOr<int>>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(
        std::async(std::launch::async, [&] { return MigratePostgres(db_->url(), migrations); }));
  }
  int total = 0;
  for (auto& run : runs) {
    absl::StatusOr<int> applied = run.get();
    ASSERT_TRUE(applied.ok()) << applied.status();
    total += *applied;
  }
  EXPECT_EQ(total, static_cast<int>(migrations.size()));
  EXPECT_EQ(db_->Query("SELECT count(*) FROM schema_migrations")[0][0],
            std::to_string(migrations.size()));
}

TEST_F(PgTest, AnEditedMigrationIsRefused) {
  Migrate();
  std::vector<Migration> edited = Migrations();
  edited[0].sql += "\n-- edited";
  edited[0].sha256 = crypto::Sha256Hex(edited[0].sql);
  auto result = MigratePostgres(db_->url(), edited);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("0001_init.sql"), std::string::npos);
}

TEST_F(PgTest, AFailingMigrationLeavesNoTrace) {
  Migrate();
  std::vector<Migration> migrations = Migrations();
  Migration broken;
  broken.version = static_cast<int>(migrations.size()) + 1;
  broken.name = "broken";
  broken.filename = "9999_broken.sql";
  broken.sql = "CREATE TABLE half_done (x int); SELECT no_such_function();";
  broken.sha256 = crypto::Sha256Hex(broken.sql);
  migrations.push_back(broken);
  auto result = MigratePostgres(db_->url(), migrations);
  ASSERT_FALSE(result.ok());
  EXPECT_NE(result.status().message().find("9999_broken.sql"), std::string::npos)
      << result.status();
  EXPECT_EQ(db_->Query("SELECT to_regclass('half_done') IS NULL")[0][0], "t");
  EXPECT_EQ(db_->Query("SELECT count(*) FROM schema_migrations WHERE name = 'broken'")[0][0], "0");
}

TEST_F(PgStoreTest, ApplyStoresEverythingAndRoundTrips) {
  v1::ApplyRequest request = Demo();
  ApplyOutcome outcome = MustApply(request);
  EXPECT_EQ(Describe(outcome.changes),
            (std::vector<std::string>{"UPSERT SERVER everything", "UPSERT SERVER remote",
                                      "UPSERT NAMESPACE demo", "UPSERT ENDPOINT demo",
                                      "UPSERT USER dev@example.com"}));
  EXPECT_EQ(outcome.revision, 2);  // one transaction, one revision

  v1::Snapshot snapshot = MustLoad();
  EXPECT_EQ(snapshot.revision(), 2);
  // What was stored is exactly what was asked for: planning the request again finds nothing.
  EXPECT_TRUE(PlanApply(snapshot, request)->changes.empty());
  ASSERT_EQ(snapshot.servers_size(), 2);
  EXPECT_EQ(snapshot.servers(0).args(1), "@modelcontextprotocol/server-everything");
  EXPECT_EQ(snapshot.servers(0).env().at("TOKEN"), "env-secret");
  EXPECT_EQ(snapshot.servers(1).bearer_token(), "bearer-secret");
  EXPECT_EQ(snapshot.servers(1).headers().at("X-Api-Key"), "header-secret");
  ASSERT_EQ(snapshot.namespaces(0).servers_size(), 2);
  EXPECT_TRUE(snapshot.namespaces(0).servers(1).disabled());

  ApplyOutcome again = MustApply(request);
  EXPECT_TRUE(again.changes.empty());
  EXPECT_EQ(again.revision, 2);
  EXPECT_EQ(Revision(), 2);
}

TEST_F(PgStoreTest, ServerPoolSettingsRoundTrip) {
  v1::ApplyRequest request = Demo();
  v1::Server* pooled = request.add_servers();
  pooled->set_name("pooled");
  pooled->set_type("STDIO");
  pooled->set_command("node");
  pooled->set_isolation("per-session");
  pooled->set_max_processes(20);
  pooled->set_max_in_flight_per_process(3);
  pooled->set_queue_size(40);
  pooled->set_queue_timeout_ms(5000);
  pooled->set_idle_timeout_ms(60000);
  pooled->set_request_timeout_ms(120000);
  pooled->set_cwd("/srv/mcp");
  pooled->set_limit_address_space_mb(int64_t{3} << 20);  // beyond int32 once in bytes
  pooled->set_limit_cpu_seconds(3600);
  pooled->set_limit_open_files(1024);
  pooled->set_limit_processes(64);
  v1::Server* warm = request.add_servers();
  warm->set_name("warm");
  warm->set_type("STDIO");
  warm->set_command("node");
  warm->set_isolation("shared");  // stored as the default, read back as ""
  warm->set_min_processes(2);
  warm->set_max_processes(4);
  MustApply(request);

  v1::Snapshot snapshot = MustLoad();
  std::map<std::string, v1::Server> by_name;
  for (const v1::Server& s : snapshot.servers()) by_name[s.name()] = s;
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(by_name["pooled"], *pooled))
      << by_name["pooled"].DebugString();
  EXPECT_EQ(by_name["warm"].isolation(), "");
  EXPECT_EQ(by_name["warm"].min_processes(), 2);
  EXPECT_EQ(by_name["everything"].isolation(), "");  // untouched: the defaults
  EXPECT_EQ(by_name["everything"].max_processes(), 0);
  EXPECT_EQ(db_->Query("SELECT isolation FROM servers WHERE name = 'everything'")[0][0], "shared");
  // The table refuses what the API would refuse, for writes made by hand.
  EXPECT_THROW(db_->Query("UPDATE servers SET isolation = 'per-tenant' WHERE name = 'warm'"),
               std::exception);
  EXPECT_THROW(db_->Query("UPDATE servers SET min_processes = 9 WHERE name = 'warm'"),
               std::exception);
}

TEST_F(PgStoreTest, ApplyUpsertsByNameAndLeavesOthersAlone) {
  MustApply(Demo());
  v1::ApplyRequest update;
  auto* server = update.add_servers();
  server->set_name("everything");
  server->set_type("STDIO");
  server->set_command("node");
  server->add_args("server.js");
  auto* ns = update.add_namespaces();
  ns->set_name("demo");
  ns->add_servers()->set_server("everything");  // 'remote' leaves the namespace
  ns->set_disable_prefix(true);
  ApplyOutcome outcome = MustApply(update);
  EXPECT_EQ(Describe(outcome.changes),
            (std::vector<std::string>{"UPSERT SERVER everything", "UPSERT NAMESPACE demo"}));

  v1::Snapshot snapshot = MustLoad();
  EXPECT_EQ(snapshot.servers_size(), 2);  // 'remote' is still there
  EXPECT_EQ(snapshot.servers(0).command(), "node");
  EXPECT_TRUE(snapshot.servers(0).env().empty());
  ASSERT_EQ(snapshot.namespaces(0).servers_size(), 1);
  EXPECT_TRUE(snapshot.namespaces(0).disable_prefix());
  EXPECT_EQ(snapshot.namespaces(0).description(), "");
  EXPECT_EQ(snapshot.endpoints_size(), 1);
  EXPECT_EQ(snapshot.users_size(), 1);
}

TEST_F(PgStoreTest, NamespaceKeepsMemberOrder) {
  v1::ApplyRequest request;
  for (const char* name : {"c", "a", "b"}) {
    auto* s = request.add_servers();
    s->set_name(name);
    s->set_type("STDIO");
    s->set_command("x");
  }
  auto* ns = request.add_namespaces();
  ns->set_name("n");
  for (const char* name : {"c", "a", "b"}) ns->add_servers()->set_server(name);
  MustApply(request);
  v1::Snapshot snapshot = MustLoad();
  ASSERT_EQ(snapshot.namespaces(0).servers_size(), 3);
  EXPECT_EQ(snapshot.namespaces(0).servers(0).server(), "c");
  EXPECT_EQ(snapshot.namespaces(0).servers(1).server(), "a");
  EXPECT_EQ(snapshot.namespaces(0).servers(2).server(), "b");

  request.mutable_namespaces(0)->mutable_servers()->SwapElements(0, 2);
  EXPECT_EQ(MustApply(request).changes.size(), 1u);
  EXPECT_EQ(MustLoad().namespaces(0).servers(0).server(), "b");
}

TEST_F(PgStoreTest, ApplyIsAllOrNothing) {
  MustApply(Demo());
  int64_t before = Revision();
  // Passes the planner but fails in the database half-way: the new server is written first,
  // then the namespace names a server that does not exist.
  v1::ApplyRequest request;
  auto* server = request.add_servers();
  server->set_name("fresh");
  server->set_type("STDIO");
  server->set_command("x");
  auto* ns = request.add_namespaces();
  ns->set_name("broken");
  ns->add_servers()->set_server("ghost");
  auto result = store_->Apply(request);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition) << result.status();
  EXPECT_EQ(db_->Query("SELECT count(*) FROM servers WHERE name = 'fresh'")[0][0], "0");
  EXPECT_EQ(db_->Query("SELECT count(*) FROM namespaces WHERE name = 'broken'")[0][0], "0");
  EXPECT_EQ(Revision(), before);
  // The store is still usable afterwards.
  EXPECT_EQ(MustLoad().servers_size(), 2);
}

TEST_F(PgStoreTest, DatabaseErrorsDoNotLeakSecrets) {
  v1::ApplyRequest request;
  auto* server = request.add_servers();
  server->set_name("bad");
  server->set_type("FTP");  // violates the CHECK constraint (validation skipped on purpose)
  server->set_bearer_token("leaky-secret");
  auto result = store_->Apply(request);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  EXPECT_EQ(result.status().message().find("leaky-secret"), std::string::npos) << result.status();
  EXPECT_EQ(result.status().message().find('\n'), std::string::npos);
}

TEST_F(PgStoreTest, DryRunWritesNothing) {
  v1::ApplyRequest request = Demo();
  request.set_dry_run(true);
  ApplyOutcome outcome = MustApply(request);
  EXPECT_EQ(outcome.changes.size(), 5u);
  EXPECT_EQ(outcome.revision, 1);
  EXPECT_EQ(Revision(), 1);
  EXPECT_EQ(db_->Query("SELECT count(*) FROM servers")[0][0], "0");
  EXPECT_EQ(db_->Query("SELECT count(*) FROM users")[0][0], "0");
}

TEST_F(PgStoreTest, RevisionMovesOncePerTransactionAndIsAnnounced) {
  PgConfigStore listener(db_->url());
  auto first = listener.WaitForChange(std::chrono::milliseconds(0));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(*first);  // starting to listen counts as news
  auto quiet = listener.WaitForChange(std::chrono::milliseconds(50));
  ASSERT_TRUE(quiet.ok());
  EXPECT_FALSE(*quiet);

  MustApply(Demo());  // five tables in one transaction
  EXPECT_EQ(Revision(), 2);
  auto news = listener.WaitForChange(std::chrono::seconds(5));
  ASSERT_TRUE(news.ok()) << news.status();
  EXPECT_TRUE(*news);

  // A change made by hand is counted and announced too.
  db_->Query("UPDATE users SET name = 'By Hand' WHERE email = 'dev@example.com'");
  EXPECT_EQ(Revision(), 3);
  news = listener.WaitForChange(std::chrono::seconds(5));
  ASSERT_TRUE(news.ok());
  EXPECT_TRUE(*news);
  auto revision = listener.LoadRevision();
  ASSERT_TRUE(revision.ok());
  EXPECT_EQ(*revision, 3);

  // So is a TRUNCATE.
  db_->Query("TRUNCATE api_keys");
  EXPECT_EQ(Revision(), 4);
}

TEST_F(PgStoreTest, ConcurrentWritersGetDistinctRevisions) {
  MustApply(Demo());
  std::vector<std::future<absl::StatusOr<ApplyOutcome>>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(std::async(std::launch::async, [&, i] {
      PgConfigStore store(db_->url());
      v1::ApplyRequest request;
      auto* user = request.add_users();
      user->set_email("user" + std::to_string(i) + "@example.com");
      return store.Apply(request);
    }));
  }
  std::set<int64_t> revisions;
  for (auto& run : runs) {
    auto outcome = run.get();
    ASSERT_TRUE(outcome.ok()) << outcome.status();
    revisions.insert(outcome->revision);
  }
  EXPECT_EQ(revisions, (std::set<int64_t>{3, 4, 5, 6}));
}

TEST_F(PgStoreTest, ApiKeysAreStoredHashedOnly) {
  MustApply(Demo());
  RegistryService service([this] { return std::make_unique<PgConfigStore>(db_->url()); });
  ASSERT_TRUE(service.Start().ok());
  v1::CreateApiKeyRequest request;
  request.set_user_email("dev@example.com");
  request.set_name("ci");
  std::promise<absl::StatusOr<v1::CreateApiKeyResponse>> promise;
  service.CreateApiKey(request, [&](auto r) { promise.set_value(std::move(r)); });
  auto created = promise.get_future().get();
  ASSERT_TRUE(created.ok()) << created.status();
  const std::string key = created->key();
  ASSERT_EQ(key.rfind("sk_sb_", 0), 0u);

  auto rows = db_->Query("SELECT row_to_json(k)::text FROM api_keys k");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0].find(key), std::string::npos) << rows[0][0];
  EXPECT_EQ(rows[0][0].find(key.substr(8)), std::string::npos);
  auto stored = db_->Query("SELECT key_sha256, prefix, name, user_email FROM api_keys");
  EXPECT_EQ(stored[0][0], crypto::Sha256Hex(key));
  EXPECT_EQ(stored[0][1], key.substr(0, 8));
  EXPECT_EQ(stored[0][2], "ci");
  EXPECT_EQ(stored[0][3], "dev@example.com");

  v1::Snapshot snapshot = MustLoad();
  ASSERT_EQ(snapshot.api_keys_size(), 1);
  EXPECT_EQ(snapshot.api_keys(0).key_sha256(), crypto::Sha256Hex(key));
  EXPECT_GT(snapshot.api_keys(0).created_unix(), 1600000000);
  EXPECT_EQ(snapshot.SerializeAsString().find(key), std::string::npos);
  service.Stop();
}

TEST_F(PgStoreTest, ApiKeyForUnknownUserIsNotFound) {
  v1::ApiKey key;
  key.set_id("k");
  key.set_user_email("ghost@example.com");
  key.set_prefix("sk_sb_00");
  key.set_key_sha256(crypto::Sha256Hex("x"));
  auto result = store_->InsertApiKey(key);
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(db_->Query("SELECT count(*) FROM api_keys")[0][0], "0");
}

TEST_F(PgStoreTest, DeleteRefusesObjectsInUse) {
  MustApply(Demo());
  auto in_use = store_->Delete(Change::SERVER, "remote");
  EXPECT_EQ(in_use.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(in_use.status().message(),
            "server 'remote' is used by namespace 'demo'; remove it from there first");
  auto served = store_->Delete(Change::NAMESPACE, "demo");
  EXPECT_EQ(served.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Delete(Change::ENDPOINT, "nope").status().code(), absl::StatusCode::kNotFound);

  int64_t before = Revision();
  auto deleted = store_->Delete(Change::ENDPOINT, "demo");
  ASSERT_TRUE(deleted.ok()) << deleted.status();
  EXPECT_EQ(*deleted, before + 1);
  ASSERT_TRUE(store_->Delete(Change::NAMESPACE, "demo").ok());
  ASSERT_TRUE(store_->Delete(Change::SERVER, "remote").ok());
  EXPECT_EQ(db_->Query("SELECT count(*) FROM namespace_servers")[0][0], "0");
}

TEST_F(PgStoreTest, AWritesCheckSeesTheStoredObjectAndItsRefusalWritesNothing) {
  MustApply(Demo());
  int64_t before = Revision();
  std::vector<std::string> seen;  // the stored servers' "name type" each check was shown
  StoredCheck refuse_stdio = [&seen](const Change& stored) {
    seen.push_back(stored.server().name() + " " + stored.server().type());
    return stored.server().type() == "STDIO" ? absl::PermissionDeniedError("no STDIO")
                                             : absl::OkStatus();
  };
  v1::Server changed;
  changed.set_name("everything");
  changed.set_type("STREAMABLE_HTTP");
  changed.set_url("https://example.test/other");
  // Refused ahead of the revision check: its expected_revision is not even right.
  auto put = store_->Put(WriteMode::kUpdate, UpsertChange(changed), 0, "dev", refuse_stdio);
  EXPECT_EQ(put.status(), absl::PermissionDeniedError("no STDIO"));
  auto deleted = store_->Delete(Change::SERVER, "everything", "dev", refuse_stdio);
  EXPECT_EQ(deleted.status(), absl::PermissionDeniedError("no STDIO"));
  EXPECT_EQ(Revision(), before);
  EXPECT_EQ(db_->Query("SELECT type FROM servers WHERE name = 'everything'")[0][0], "STDIO");

  // A create has no stored object to show; a remote server passes.
  v1::Server fresh;
  fresh.set_name("fresh");
  fresh.set_type("STREAMABLE_HTTP");
  fresh.set_url("https://example.test/fresh");
  ASSERT_TRUE(store_->Put(WriteMode::kCreate, UpsertChange(fresh), 0, "dev", refuse_stdio).ok());
  auto stored = store_->Get(Change::SERVER, "fresh");
  ASSERT_TRUE(stored.ok()) << stored.status();
  fresh.set_description("moved");
  ASSERT_TRUE(
      store_->Put(WriteMode::kUpdate, UpsertChange(fresh), stored->revision, "dev", refuse_stdio)
          .ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"everything STDIO", "everything STDIO",
                                            "fresh STREAMABLE_HTTP"}));
}

TEST_F(PgStoreTest, DeletingAUserDeletesItsKeys) {
  MustApply(Demo());
  v1::ApiKey key;
  key.set_id("k1");
  key.set_user_email("dev@example.com");
  key.set_prefix("sk_sb_ab");
  key.set_key_sha256(crypto::Sha256Hex("k1"));
  ASSERT_TRUE(store_->InsertApiKey(key).ok());
  ASSERT_TRUE(store_->Delete(Change::USER, "dev@example.com").ok());
  EXPECT_EQ(db_->Query("SELECT count(*) FROM api_keys")[0][0], "0");
}

TEST_F(PgStoreTest, ToolCallsAreStoredOncePerStreamEntryAndListedNewestFirst) {
  auto call = [](int64_t at_ms, std::string user, std::string tool, std::string outcome) {
    v1::ToolCall c;
    c.set_at_unix_ms(at_ms);
    c.set_user_email(std::move(user));
    c.set_endpoint("demo");
    c.set_tool(std::move(tool));
    c.set_outcome(std::move(outcome));
    c.set_duration_ms(12);
    return c;
  };
  std::vector<std::pair<std::string, v1::ToolCall>> batch = {
      {"1-0", call(1795000000000, "a@example.com", "x__echo", "ok")},
      {"2-0", call(1795000001000, "b@example.com", "x__add", "error")},
      {"3-0", call(1795000002500, "a@example.com", "x__add", "tool_error")}};
  ASSERT_TRUE(store_->RecordToolCalls(batch).ok());
  // A batch drained again (a crash before the acknowledgement) stores nothing twice.
  ASSERT_TRUE(store_->RecordToolCalls(batch).ok());
  EXPECT_EQ(db_->Query("SELECT count(*) FROM tool_call_audit")[0][0], "3");

  v1::ListToolCallsRequest request;
  request.set_limit(10);
  request.set_user_email("a@example.com");
  auto a = store_->ListToolCalls(request);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(a->size(), 2u);
  EXPECT_EQ((*a)[0].tool(), "x__add");
  EXPECT_EQ((*a)[0].outcome(), "tool_error");
  EXPECT_EQ((*a)[0].at_unix_ms(), 1795000002500);
  EXPECT_EQ((*a)[0].duration_ms(), 12);
  EXPECT_EQ((*a)[1].tool(), "x__echo");

  request.set_user_email("");
  request.set_since_unix(1795000001);
  auto since = store_->ListToolCalls(request);
  ASSERT_TRUE(since.ok()) << since.status();
  EXPECT_EQ(since->size(), 2u);
  request.set_limit(1);
  EXPECT_EQ(store_->ListToolCalls(request)->size(), 1u);
}

TEST_F(PgStoreTest, SnapshotsDiffIntoTheChangesMade) {
  MustApply(Demo());
  v1::Snapshot before = MustLoad();

  v1::ApplyRequest update;
  auto* server = update.add_servers();
  *server = before.servers(0);
  (*server->mutable_env())["TOKEN"] = "rotated";
  auto* user = update.add_users();
  user->set_email("ops@example.com");
  MustApply(update);
  ASSERT_TRUE(store_->Delete(Change::ENDPOINT, "demo").ok());
  v1::ApiKey key;
  key.set_id("k1");
  key.set_user_email("ops@example.com");
  key.set_prefix("sk_sb_cd");
  key.set_key_sha256(crypto::Sha256Hex("k1"));
  ASSERT_TRUE(store_->InsertApiKey(key).ok());

  v1::Snapshot after = MustLoad();
  EXPECT_EQ(after.revision(), before.revision() + 3);
  std::vector<Change> changes = DiffSnapshots(before, after);
  EXPECT_EQ(Describe(changes),
            (std::vector<std::string>{"UPSERT SERVER everything", "UPSERT USER ops@example.com",
                                      "UPSERT API_KEY k1", "DELETE ENDPOINT demo"}));
  EXPECT_EQ(changes[0].server().env().at("TOKEN"), "rotated");
  EXPECT_EQ(changes[2].api_key().key_sha256(), crypto::Sha256Hex("k1"));
}

TEST_F(PgStoreTest, StoreReconnectsAfterTheConnectionDrops) {
  MustApply(Demo());
  PgConfigStore listener(db_->url());
  ASSERT_TRUE(listener.WaitForChange(std::chrono::milliseconds(0)).ok());
  db_->Query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  // Reads retry once on a fresh connection.
  auto snapshot = store_->LoadSnapshot();
  ASSERT_TRUE(snapshot.ok()) << snapshot.status();
  EXPECT_EQ(snapshot->servers_size(), 2);
  // A write on a connection the server closed while it sat idle goes through on a new one.
  db_->Query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  v1::ApplyRequest write;
  write.add_users()->set_email("during@example.com");
  auto written = store_->Apply(write);
  ASSERT_TRUE(written.ok()) << written.status();
  // The listener reports the break, then listens again on a new connection, which counts as
  // news because notifications may have been missed meanwhile.
  absl::StatusOr<bool> news = listener.WaitForChange(std::chrono::milliseconds(200));
  for (int i = 0; i < 3 && !news.ok(); ++i) {
    news = listener.WaitForChange(std::chrono::milliseconds(200));
  }
  ASSERT_TRUE(news.ok()) << news.status();
  EXPECT_TRUE(*news);
  MustApply([] {
    v1::ApplyRequest r;
    r.add_users()->set_email("after@example.com");
    return r;
  }());
  news = listener.WaitForChange(std::chrono::seconds(5));
  ASSERT_TRUE(news.ok());
  EXPECT_TRUE(*news);
}

TEST_F(PgStoreTest, ServiceFollowsChangesAcrossADroppedConnection) {
  RegistryService service([this] { return std::make_unique<PgConfigStore>(db_->url()); },
                          RegistryOptions{.poll_interval = std::chrono::milliseconds(500),
                                          .retry_backoff = std::chrono::milliseconds(100)});
  ASSERT_TRUE(service.Start().ok());
  EXPECT_EQ(service.watch_hub().revision(), 1);
  db_->Query(
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
      "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  PgConfigStore writer(db_->url());
  auto outcome = writer.Apply(Demo());
  ASSERT_TRUE(outcome.ok()) << outcome.status();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (service.watch_hub().revision() != outcome->revision &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(service.watch_hub().revision(), outcome->revision);
  EXPECT_EQ(service.watch_hub().snapshot()->servers_size(), 2);
  service.Stop();
}

TEST(PgConnectTest, UnreachableDatabaseFailsWithoutThePassword) {
  PgConfigStore store("postgresql://sb:hunter2-secret@127.0.0.1:1/none?connect_timeout=2");
  absl::Status status = store.Connect();
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(status.message().find("hunter2"), std::string::npos) << status;
  auto migrated = MigratePostgres("postgresql://sb:hunter2-secret@127.0.0.1:1/none", {});
  ASSERT_FALSE(migrated.ok());
  EXPECT_EQ(migrated.status().message().find("hunter2"), std::string::npos);
}

}  // namespace
}  // namespace switchboard::registry
