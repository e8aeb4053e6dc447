#include "services/registry/src/registry_service.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <thread>

#include "services/registry/src/snapshot_diff.h"
#include "switchboard/common/crypto.h"

namespace switchboard::registry {
namespace {

using v1::Change;

// An in-memory database shared by FakeConfigStore instances, with a notification counter in
// place of LISTEN/NOTIFY and a gate that can hold loads to fill the pool.
struct FakeDb {
  std::mutex mu;
  std::condition_variable cv;
  v1::Snapshot snapshot;
  int64_t notifications = 0;
  bool hold_loads = false;
  int held = 0;
  std::map<std::string, int64_t> key_use;
  std::vector<v1::ListToolCallsRequest> tool_call_lists;

  void Bump() {
    snapshot.set_revision(snapshot.revision() + 1);
    ++notifications;
    cv.notify_all();
  }
};

template <typename T>
bool EraseByKey(google::protobuf::RepeatedPtrField<T>* list, const std::string& key,
                const std::string& (T::*key_of)() const) {
  for (int i = 0; i < list->size(); ++i) {
    if (((*list)[i].*key_of)() == key) {
      list->DeleteSubrange(i, 1);
      return true;
    }
  }
  return false;
}

template <typename T>
void PutByKey(google::protobuf::RepeatedPtrField<T>* list, const T& object,
              const std::string& (T::*key_of)() const) {
  EraseByKey(list, (object.*key_of)(), key_of);
  *list->Add() = object;
}

class FakeConfigStore : public ConfigStore {
 public:
  explicit FakeConfigStore(FakeDb* db) : db_(db) {}

  absl::StatusOr<v1::Snapshot> LoadSnapshot() override {
    std::unique_lock<std::mutex> lock(db_->mu);
    ++db_->held;
    db_->cv.notify_all();
    db_->cv.wait(lock, [&] { return !db_->hold_loads; });
    --db_->held;
    v1::Snapshot s = db_->snapshot;
    SortSnapshot(&s);
    return s;
  }
  absl::StatusOr<int64_t> LoadRevision() override {
    std::lock_guard<std::mutex> lock(db_->mu);
    return db_->snapshot.revision();
  }
  absl::Status RecordApiKeyUse(const std::vector<v1::ApiKeyUse>& uses) override {
    std::lock_guard<std::mutex> lock(db_->mu);
    for (const auto& use : uses) db_->key_use[use.id()] = use.used_unix();
    return absl::OkStatus();
  }
  absl::StatusOr<std::map<std::string, int64_t>> LoadApiKeyUse() override {
    std::lock_guard<std::mutex> lock(db_->mu);
    return db_->key_use;
  }
  absl::Status RecordServerTools(const std::vector<v1::ServerTools>&) override {
    return absl::OkStatus();
  }
  absl::Status RecordToolCalls(const std::vector<std::pair<std::string, v1::ToolCall>>&) override {
    return absl::UnimplementedError("not faked");
  }
  absl::StatusOr<std::vector<v1::ToolCall>> ListToolCalls(
      const v1::ListToolCallsRequest& request) override {
    std::lock_guard<std::mutex> lock(db_->mu);
    db_->tool_call_lists.push_back(request);
    return std::vector<v1::ToolCall>();
  }
  using ConfigStore::Apply;
  using ConfigStore::Delete;
  using ConfigStore::InsertApiKey;

  absl::StatusOr<ApplyOutcome> Apply(const v1::ApplyRequest& request, const std::string&) override {
    std::lock_guard<std::mutex> lock(db_->mu);
    absl::StatusOr<ApplyPlan> plan = PlanApply(db_->snapshot, request);
    if (!plan.ok()) return plan.status();
    ApplyOutcome out{db_->snapshot.revision(), std::move(plan->changes), std::move(plan->diff)};
    if (request.dry_run() || out.changes.empty()) return out;
    v1::Snapshot& s = db_->snapshot;
    for (const Change& c : out.changes) {
      if (c.has_server()) PutByKey(s.mutable_servers(), c.server(), &v1::Server::name);
      if (c.has_namespace_())
        PutByKey(s.mutable_namespaces(), c.namespace_(), &v1::Namespace::name);
      if (c.has_endpoint()) PutByKey(s.mutable_endpoints(), c.endpoint(), &v1::Endpoint::name);
      if (c.has_user()) PutByKey(s.mutable_users(), c.user(), &v1::User::email);
    }
    db_->Bump();
    out.revision = s.revision();
    return out;
  }
  absl::StatusOr<int64_t> Delete(Change::Kind kind, const std::string& key, const std::string&,
                                 const StoredCheck&) override {
    std::lock_guard<std::mutex> lock(db_->mu);
    v1::Snapshot& s = db_->snapshot;
    bool found = false;
    if (kind == Change::SERVER) found = EraseByKey(s.mutable_servers(), key, &v1::Server::name);
    if (kind == Change::ENDPOINT) {
      found = EraseByKey(s.mutable_endpoints(), key, &v1::Endpoint::name);
    }
    if (!found) return absl::NotFoundError("not found");
    db_->Bump();
    return s.revision();
  }
  absl::StatusOr<StoredObject> Get(Change::Kind, const std::string&) override {
    return absl::UnimplementedError("not faked");
  }
  absl::StatusOr<StoredObject> Put(WriteMode, const Change&, int64_t, const std::string&,
                                   const StoredCheck&) override {
    return absl::UnimplementedError("not faked");
  }
  absl::StatusOr<std::vector<v1::AuditEntry>> ListAudit(const v1::ListAuditRequest&) override {
    return absl::UnimplementedError("not faked");
  }
  absl::StatusOr<v1::ApiKey> InsertApiKey(const v1::ApiKey& key, const std::string&) override {
    std::lock_guard<std::mutex> lock(db_->mu);
    bool user_exists = false;
    for (const auto& u : db_->snapshot.users()) user_exists |= u.email() == key.user_email();
    if (!user_exists) return absl::NotFoundError("user '" + key.user_email() + "' not found");
    v1::ApiKey stored = key;
    stored.set_created_unix(1700000000);
    *db_->snapshot.add_api_keys() = stored;
    db_->Bump();
    return stored;
  }
  absl::StatusOr<bool> WaitForChange(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(db_->mu);
    if (seen_ < 0) {
      seen_ = db_->notifications;
      return true;
    }
    db_->cv.wait_for(lock, timeout, [&] { return db_->notifications != seen_; });
    bool news = db_->notifications != seen_;
    seen_ = db_->notifications;
    return news;
  }

 private:
  FakeDb* db_;
  int64_t seen_ = -1;
};

// Runs an asynchronous service call and waits for its result.
template <typename T, typename Call>
absl::StatusOr<T> Await(Call call) {
  std::promise<absl::StatusOr<T>> promise;
  call([&](absl::StatusOr<T> result) { promise.set_value(std::move(result)); });
  return promise.get_future().get();
}

class RegistryServiceTest : public testing::Test {
 protected:
  void SetUp() override {
    db_.snapshot.set_revision(1);
    ASSERT_TRUE(service_.Start().ok());
  }

  absl::StatusOr<v1::ApplyResponse> Apply(const v1::ApplyRequest& request) {
    return Await<v1::ApplyResponse>([&](auto done) { service_.Apply(request, done); });
  }

  static v1::ApplyRequest Demo() {
    v1::ApplyRequest r;
    auto* stdio = r.add_servers();
    stdio->set_name("everything");
    stdio->set_type("STDIO");
    stdio->set_command("npx");
    (*stdio->mutable_env())["TOKEN"] = "env-secret";
    auto* remote = r.add_servers();
    remote->set_name("remote");
    remote->set_type("STREAMABLE_HTTP");
    remote->set_url("https://example.test/mcp");
    remote->set_bearer_token("bearer-secret");
    (*remote->mutable_headers())["X-Api-Key"] = "header-secret";
    auto* user = r.add_users();
    user->set_email("dev@example.com");
    return r;
  }

  FakeDb db_;
  RegistryService service_{[this] { return std::make_unique<FakeConfigStore>(&db_); },
                           RegistryOptions{.pool_threads = 2,
                                           .max_queued = 8,
                                           .poll_interval = std::chrono::milliseconds(200),
                                           .retry_backoff = std::chrono::milliseconds(50)}};
};

TEST_F(RegistryServiceTest, InvalidApplyIsRefusedWithTheFieldAndWritesNothing) {
  v1::ApplyRequest request = Demo();
  request.mutable_servers(0)->clear_command();
  auto result = Apply(request);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(result.status().message(), "servers[0].command: required for type STDIO");
  std::lock_guard<std::mutex> lock(db_.mu);
  EXPECT_EQ(db_.snapshot.servers_size(), 0);
  EXPECT_EQ(db_.snapshot.revision(), 1);
}

TEST_F(RegistryServiceTest, ApplyReportsChangesWithSecretsBlanked) {
  auto result = Apply(Demo());
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->revision(), 2);
  ASSERT_EQ(result->changes_size(), 3);
  EXPECT_EQ(result->changes(0).server().env().at("TOKEN"), "***");
  EXPECT_EQ(result->changes(1).server().bearer_token(), "***");
  EXPECT_EQ(result->changes(1).server().headers().at("X-Api-Key"), "***");
  EXPECT_EQ(result->changes(1).server().url(), "https://example.test/mcp");
  std::string wire = result->SerializeAsString();
  EXPECT_EQ(wire.find("secret"), std::string::npos);
  // The store keeps the real values.
  std::lock_guard<std::mutex> lock(db_.mu);
  EXPECT_EQ(db_.snapshot.servers(0).env().at("TOKEN"), "env-secret");
}

TEST_F(RegistryServiceTest, ApplyAgainReportsNothing) {
  ASSERT_TRUE(Apply(Demo()).ok());
  auto again = Apply(Demo());
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->changes_size(), 0);
  EXPECT_EQ(again->revision(), 2);
}

TEST_F(RegistryServiceTest, DryRunReportsWithoutWriting) {
  v1::ApplyRequest request = Demo();
  request.set_dry_run(true);
  auto result = Apply(request);
  ASSERT_TRUE(result.ok());
  EXPECT_EQ(result->changes_size(), 3);
  EXPECT_EQ(result->revision(), 1);
  std::lock_guard<std::mutex> lock(db_.mu);
  EXPECT_EQ(db_.snapshot.servers_size(), 0);
}

TEST_F(RegistryServiceTest, ListsBlankSecrets) {
  ASSERT_TRUE(Apply(Demo()).ok());
  auto servers = Await<v1::ListServersResponse>([&](auto d) { service_.ListServers(d); });
  ASSERT_TRUE(servers.ok());
  ASSERT_EQ(servers->servers_size(), 2);
  EXPECT_EQ(servers->servers(0).name(), "everything");
  EXPECT_EQ(servers->servers(0).env().at("TOKEN"), "***");
  EXPECT_EQ(servers->servers(1).bearer_token(), "***");
  EXPECT_EQ(servers->SerializeAsString().find("secret"), std::string::npos);
  auto users = Await<v1::ListUsersResponse>([&](auto d) { service_.ListUsers(d); });
  ASSERT_TRUE(users.ok());
  EXPECT_EQ(users->users_size(), 1);
}

TEST_F(RegistryServiceTest, ResultsArriveFromAPoolThread) {
  std::promise<std::thread::id> where;
  service_.ListUsers(
      [&](absl::StatusOr<v1::ListUsersResponse>) { where.set_value(std::this_thread::get_id()); });
  EXPECT_NE(where.get_future().get(), std::this_thread::get_id());
}

TEST_F(RegistryServiceTest, CreateApiKeyReturnsTheClearKeyOnceAndStoresItsHash) {
  ASSERT_TRUE(Apply(Demo()).ok());
  v1::CreateApiKeyRequest request;
  request.set_user_email("dev@example.com");
  request.set_name("laptop");
  auto result = Await<v1::CreateApiKeyResponse>([&](auto d) { service_.CreateApiKey(request, d); });
  ASSERT_TRUE(result.ok()) << result.status();
  const std::string& key = result->key();
  ASSERT_EQ(key.size(), 70u) << key;
  EXPECT_EQ(key.substr(0, 6), "sk_sb_");
  EXPECT_EQ(key.find_first_not_of("0123456789abcdef", 6), std::string::npos) << key;
  EXPECT_EQ(result->api_key().prefix(), key.substr(0, 8));
  EXPECT_EQ(result->api_key().key_sha256(), crypto::Sha256Hex(key));
  EXPECT_EQ(result->api_key().name(), "laptop");
  EXPECT_FALSE(result->api_key().id().empty());
  std::lock_guard<std::mutex> lock(db_.mu);
  ASSERT_EQ(db_.snapshot.api_keys_size(), 1);
  EXPECT_EQ(db_.snapshot.SerializeAsString().find(key), std::string::npos);
}

TEST_F(RegistryServiceTest, KeysDiffer) {
  ASSERT_TRUE(Apply(Demo()).ok());
  v1::CreateApiKeyRequest request;
  request.set_user_email("dev@example.com");
  auto a = Await<v1::CreateApiKeyResponse>([&](auto d) { service_.CreateApiKey(request, d); });
  auto b = Await<v1::CreateApiKeyResponse>([&](auto d) { service_.CreateApiKey(request, d); });
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(a->key(), b->key());
  EXPECT_NE(a->api_key().id(), b->api_key().id());
  EXPECT_EQ(a->api_key().name(), "default");
}

TEST_F(RegistryServiceTest, CreateApiKeyNeedsAnExistingUser) {
  v1::CreateApiKeyRequest request;
  request.set_user_email("ghost@example.com");
  auto result = Await<v1::CreateApiKeyResponse>([&](auto d) { service_.CreateApiKey(request, d); });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
  request.clear_user_email();
  result = Await<v1::CreateApiKeyResponse>([&](auto d) { service_.CreateApiKey(request, d); });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(RegistryServiceTest, DeleteChecksItsArguments) {
  v1::DeleteRequest request;
  request.set_name("x");
  auto result = Await<v1::DeleteResponse>([&](auto d) { service_.Delete(request, d); });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  request.set_kind(Change::SERVER);
  request.clear_name();
  result = Await<v1::DeleteResponse>([&](auto d) { service_.Delete(request, d); });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  request.set_name("missing");
  result = Await<v1::DeleteResponse>([&](auto d) { service_.Delete(request, d); });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RegistryServiceTest, ListToolCallsChecksItsBoundsAndDefaultsTheLimit) {
  auto list = [&](int32_t limit, int64_t since) {
    v1::ListToolCallsRequest request;
    request.set_limit(limit);
    request.set_since_unix(since);
    return Await<v1::ListToolCallsResponse>([&](auto d) { service_.ListToolCalls(request, d); });
  };
  EXPECT_EQ(list(1001, 0).status().message(), "limit: must be between 0 and 1000");
  EXPECT_EQ(list(-1, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(list(10, -1).status().message(), "since_unix: must not be negative");
  ASSERT_TRUE(list(0, 0).ok());
  ASSERT_TRUE(list(1000, 1795000000).ok());
  std::lock_guard<std::mutex> lock(db_.mu);
  ASSERT_EQ(db_.tool_call_lists.size(), 2u);  // refused requests never reach the store
  EXPECT_EQ(db_.tool_call_lists[0].limit(), 100);
  EXPECT_EQ(db_.tool_call_lists[1].limit(), 1000);
  EXPECT_EQ(db_.tool_call_lists[1].since_unix(), 1795000000);
}

TEST_F(RegistryServiceTest, WatchHubFollowsStoreChanges) {
  EXPECT_EQ(service_.watch_hub().revision(), 1);
  ASSERT_TRUE(Apply(Demo()).ok());
  for (int i = 0; i < 200 && service_.watch_hub().revision() != 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(service_.watch_hub().revision(), 2);
  ASSERT_NE(service_.watch_hub().snapshot(), nullptr);
  EXPECT_EQ(service_.watch_hub().snapshot()->servers_size(), 2);
  // The feed is internal: secrets stay in clear for the services that need them.
  EXPECT_EQ(service_.watch_hub().snapshot()->servers(0).env().at("TOKEN"), "env-secret");
}

TEST_F(RegistryServiceTest, FullQueueRefusesInsteadOfGrowing) {
  {
    std::lock_guard<std::mutex> lock(db_.mu);
    db_.hold_loads = true;
  }
  std::vector<std::future<absl::StatusOr<v1::ListUsersResponse>>> pending;
  std::vector<std::shared_ptr<std::promise<absl::StatusOr<v1::ListUsersResponse>>>> promises;
  auto submit = [&] {
    auto p = std::make_shared<std::promise<absl::StatusOr<v1::ListUsersResponse>>>();
    pending.push_back(p->get_future());
    promises.push_back(p);
    service_.ListUsers([p](absl::StatusOr<v1::ListUsersResponse> r) { p->set_value(r); });
  };
  // Two workers busy, then eight queued: the next one is refused at once.
  submit();
  submit();
  {
    std::unique_lock<std::mutex> lock(db_.mu);
    db_.cv.wait(lock, [&] { return db_.held == 2; });
  }
  for (int i = 0; i < 8; ++i) submit();
  submit();
  ASSERT_EQ(pending.back().wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(pending.back().get().status().code(), absl::StatusCode::kResourceExhausted);
  pending.pop_back();
  {
    std::lock_guard<std::mutex> lock(db_.mu);
    db_.hold_loads = false;
  }
  db_.cv.notify_all();
  for (auto& f : pending) EXPECT_TRUE(f.get().ok());
}

TEST_F(RegistryServiceTest, StoppedServiceAnswersUnavailable) {
  service_.Stop();
  auto result = Await<v1::ListUsersResponse>([&](auto d) { service_.ListUsers(d); });
  EXPECT_EQ(result.status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace switchboard::registry
