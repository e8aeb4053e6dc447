#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdlib>
#include <thread>

#include "services/edge/src/redis_session_store.h"
#include "switchboard/common/crypto.h"
#include "switchboard/redis/testing.h"

namespace switchboard::edge {
namespace {

namespace asio = boost::asio;

class RedisSessionStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto found = redis::testing::TestRedisEndpoint();
    ASSERT_TRUE(found.ok()) << found.status();
    const redis::RedisEndpoint& endpoint = *found;
    thread_ = std::thread([this] { io_.run(); });
    redis_ = redis::RedisClient::Create(io_.get_executor(), endpoint);
    // A second client stands for another edge replica sharing the same Redis.
    other_redis_ = redis::RedisClient::Create(io_.get_executor(), endpoint);
    store_ = std::make_unique<RedisSessionStore>(redis_, std::chrono::seconds(120));
    other_store_ = std::make_unique<RedisSessionStore>(other_redis_, std::chrono::seconds(120));
    run_prefix_ = "sbtest-" + crypto::RandomHex(6) + "-";
  }

  void TearDown() override {
    if (!thread_.joinable()) return;
    for (const std::string& id : created_) EXPECT_TRUE(Run(store_->Delete(id)).ok());
    // The stores share the clients; the last owner of a client closes its connection.
    store_.reset();
    other_store_.reset();
    redis_.reset();
    other_redis_.reset();
    work_.reset();
    thread_.join();
  }

  template <typename T>
  T Run(asio::awaitable<T> op) {
    return asio::co_spawn(io_, std::move(op), asio::use_future).get();
  }

  int64_t Ttl(const std::string& id) {
    return Run([&]() -> asio::awaitable<int64_t> {
      std::vector<std::string> command = {"TTL", RedisSessionStore::Key(id)};
      auto [ec, reply] =
          co_await redis_->AsyncCommand(std::move(command), asio::as_tuple(asio::use_awaitable));
      co_return ec ? -100 : reply.integer;
    }());
  }

  SessionRecord NewRecord() {
    SessionRecord r;
    r.id = run_prefix_ + crypto::RandomHex(32);
    r.endpoint = "team";
    r.user_email = "ada@example.com";
    r.api_key_id = "key-1";
    r.protocol_version = "2025-06-18";
    r.created_unix = 1700000000;
    r.transport = "sse";
    created_.push_back(r.id);
    return r;
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
  std::shared_ptr<redis::RedisClient> redis_, other_redis_;
  std::unique_ptr<RedisSessionStore> store_, other_store_;
  std::string run_prefix_;
  std::vector<std::string> created_;
};

TEST_F(RedisSessionStoreTest, CreatedSessionIsSeenByAnotherReplicaWithAllFields) {
  SessionRecord record = NewRecord();
  ASSERT_TRUE(Run(store_->Create(record)).ok());
  auto found = Run(other_store_->Touch(record.id));
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_TRUE(found->has_value());
  const SessionRecord& got = **found;
  EXPECT_EQ(got.id, record.id);
  EXPECT_EQ(got.endpoint, "team");
  EXPECT_EQ(got.user_email, "ada@example.com");
  EXPECT_EQ(got.api_key_id, "key-1");
  EXPECT_EQ(got.protocol_version, "2025-06-18");
  EXPECT_EQ(got.created_unix, 1700000000);
  EXPECT_EQ(got.transport, "sse");
}

TEST_F(RedisSessionStoreTest, SessionsExpireAndUseRenewsTheTtl) {
  SessionRecord record = NewRecord();
  ASSERT_TRUE(Run(store_->Create(record)).ok());
  int64_t ttl = Ttl(record.id);
  EXPECT_GT(ttl, 100);
  EXPECT_LE(ttl, 120);

  auto short_lived = std::make_unique<RedisSessionStore>(redis_, std::chrono::seconds(1));
  SessionRecord brief = NewRecord();
  ASSERT_TRUE(Run(short_lived->Create(brief)).ok());
  ASSERT_TRUE(Run(store_->Touch(brief.id))->has_value());  // renewed to 120 s
  EXPECT_GT(Ttl(brief.id), 100);
  ASSERT_TRUE(Run(short_lived->Touch(brief.id))->has_value());  // back to 1 s
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  auto gone = Run(store_->Touch(brief.id));
  ASSERT_TRUE(gone.ok());
  EXPECT_FALSE(gone->has_value());
}

TEST_F(RedisSessionStoreTest, DeleteOnOneReplicaEndsTheSessionForAll) {
  SessionRecord record = NewRecord();
  ASSERT_TRUE(Run(store_->Create(record)).ok());
  auto deleted = Run(other_store_->Delete(record.id));
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE(*deleted);
  auto found = Run(store_->Touch(record.id));
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
  EXPECT_EQ(Ttl(record.id), -2);  // Touch did not recreate it
  auto again = Run(store_->Delete(record.id));
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
}

TEST_F(RedisSessionStoreTest, UnknownSessionIsNotFound) {
  auto found = Run(store_->Touch(run_prefix_ + "never-created"));
  ASSERT_TRUE(found.ok());
  EXPECT_FALSE(found->has_value());
}

TEST_F(RedisSessionStoreTest, PingAndUnreachableRedis) {
  EXPECT_TRUE(Run(store_->Ping()).ok());
  redis::RedisEndpoint nowhere;
  nowhere.port = 1;
  auto dead = redis::RedisClient::Create(io_.get_executor(), nowhere);
  RedisSessionStore dead_store(dead, std::chrono::seconds(60));
  EXPECT_EQ(Run(dead_store.Ping()).code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Run(dead_store.Touch("x")).status().code(), absl::StatusCode::kUnavailable);
}

}  // namespace
}  // namespace switchboard::edge
