// The tools/call audit drain between a real Redis stream and a real Postgres: every entry is
// stored once, and entries that arrive while the drain pauses are stored together.
#include "services/registry/src/call_audit_drain.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "services/registry/src/pg_config_store.h"
#include "services/registry/src/test_database.h"
#include "switchboard/redis/testing.h"

namespace switchboard::registry {
namespace {

using namespace std::chrono_literals;

class CallAuditDrainPgTest : public testing::Test {
 protected:
  // Each test names a Redis database of its own (tests run in parallel), so no other test's
  // stream entries mix in; and a fresh Postgres database.
  void Connect(int redis_db) {
    auto endpoint = redis::testing::TestRedisEndpoint(redis_db);
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    endpoint_ = *endpoint;
    redis_ = std::make_unique<redis::testing::ThreadedClient>(endpoint_);
    Redis({"DEL", kToolCallStream});

    auto db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    ASSERT_TRUE(db_->Migrate().ok());
    std::string db_url = db_->url();
    service_ = std::make_unique<RegistryService>(
        [db_url] { return std::make_unique<PgConfigStore>(db_url); },
        RegistryOptions{.poll_interval = 200ms, .retry_backoff = 200ms});
    ASSERT_TRUE(service_->Start().ok());
  }

  // Starts a drain, on a connection of its own (its reads block), that pauses `interval` once
  // it has caught up.
  void StartDrain(std::chrono::milliseconds interval) {
    drain_ = std::make_unique<CallAuditDrain>(
        redis::RedisClient::Create(redis_->executor(), endpoint_), service_.get(), interval);
    drain_->Start();
  }

  void TearDown() override {
    if (drain_ != nullptr) drain_->Stop();
    if (service_ != nullptr) service_->Stop();
  }

  redis::Reply Redis(std::vector<std::string> args) { return redis_->Command(std::move(args)); }

  void AddCall(int n) {
    redis::Reply r = Redis({"XADD", kToolCallStream, "*", "at_ms", "1795000000000", "user",
                            "dev@example.com", "endpoint", "demo", "tool",
                            "echo-" + std::to_string(n), "outcome", "ok", "duration_ms", "1"});
    ASSERT_FALSE(r.IsError()) << r.str;
  }

  // The calls stored so far.
  int Stored() {
    std::promise<int> count;
    v1::ListToolCallsRequest request;
    request.set_limit(1000);
    service_->ListToolCalls(request, [&count](absl::StatusOr<v1::ListToolCallsResponse> r) {
      count.set_value(r.ok() ? r->calls_size() : -1);
    });
    return count.get_future().get();
  }

  // Waits (at most 20 s) until `n` calls are stored.
  bool WaitStored(int n) {
    for (int i = 0; i < 400; ++i) {
      if (Stored() == n) return true;
      std::this_thread::sleep_for(50ms);
    }
    return false;
  }

  redis::RedisEndpoint endpoint_;
  std::unique_ptr<redis::testing::ThreadedClient> redis_;
  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<RegistryService> service_;
  std::unique_ptr<CallAuditDrain> drain_;
};

TEST_F(CallAuditDrainPgTest, CallsArrivingDuringThePauseAreStoredInOneBatch) {
  ASSERT_NO_FATAL_FAILURE(Connect(11));
  StartDrain(2000ms);
  AddCall(0);
  ASSERT_TRUE(WaitStored(1));
  // The first call was stored alone, and the drain now pauses: the next ten, arriving one by
  // one (a drain without the pause stores each on its own), wait for it.
  uint64_t before = drain_->batches_stored();
  EXPECT_GE(before, 1u);
  for (int i = 1; i <= 10; ++i) {
    AddCall(i);
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_TRUE(WaitStored(11));
  EXPECT_LE(drain_->batches_stored() - before, 2u);
  // Stored ones leave the stream.
  for (int i = 0; i < 100 && Redis({"XLEN", kToolCallStream}).integer != 0; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(Redis({"XLEN", kToolCallStream}).integer, 0);
}

TEST_F(CallAuditDrainPgTest, WithoutAPauseEachCallIsStoredAsItArrives) {
  ASSERT_NO_FATAL_FAILURE(Connect(12));
  StartDrain(0ms);
  for (int i = 0; i < 3; ++i) {
    AddCall(i);
    ASSERT_TRUE(WaitStored(i + 1));
  }
  EXPECT_EQ(drain_->batches_stored(), 3u);
}

TEST_F(CallAuditDrainPgTest, EntriesReadButNeverStoredBeforeAreStoredFirst) {
  ASSERT_NO_FATAL_FAILURE(Connect(13));
  // An earlier drain read three entries and stopped (crashed) before storing them: they are
  // pending in the group, and a read of new entries (">") would never return them.
  for (int i = 0; i < 3; ++i) AddCall(i);
  ASSERT_FALSE(Redis({"XGROUP", "CREATE", kToolCallStream, kToolCallGroup, "0"}).IsError());
  redis::Reply read = Redis({"XREADGROUP", "GROUP", kToolCallGroup, kToolCallGroup, "COUNT",
                             "10", "STREAMS", kToolCallStream, ">"});
  ASSERT_FALSE(read.IsError()) << read.str;
  ASSERT_EQ(Redis({"XPENDING", kToolCallStream, kToolCallGroup}).elements.at(0).integer, 3);
  AddCall(3);  // and one that nobody has read yet

  StartDrain(0ms);
  ASSERT_TRUE(WaitStored(4));
  EXPECT_EQ(Redis({"XPENDING", kToolCallStream, kToolCallGroup}).elements.at(0).integer, 0);
}

}  // namespace
}  // namespace switchboard::registry
