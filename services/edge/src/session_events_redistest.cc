// SessionEvents against a real Redis: the stream store (append, replay after an id, the bound,
// expiry) and the pub/sub wake-ups between two replicas.

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdlib>
#include <thread>

#include "services/edge/src/session_events.h"
#include "switchboard/common/crypto.h"
#include "switchboard/redis/testing.h"

// GCC 12 reports a false -Wmismatched-new-delete on some Asio coroutine frames.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace switchboard::edge {
namespace {

namespace asio = boost::asio;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

class SessionEventsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto found = redis::testing::TestRedisEndpoint();
    ASSERT_TRUE(found.ok()) << found.status();
    endpoint_ = *found;
    thread_ = std::thread([this] { io_.run(); });
    redis_ = redis::RedisClient::Create(io_.get_executor(), endpoint_);
    other_redis_ = redis::RedisClient::Create(io_.get_executor(), endpoint_);
    events_ = std::make_unique<SessionEvents>(redis_, endpoint_, io_.get_executor(),
                                              std::chrono::seconds(120), 20);
    // Another edge replica sharing the same Redis.
    other_ = std::make_unique<SessionEvents>(other_redis_, endpoint_, io_.get_executor(),
                                             std::chrono::seconds(120), 20);
    session_ = "sbtest-" + crypto::RandomHex(16);
  }

  void TearDown() override {
    if (!thread_.joinable()) return;
    EXPECT_TRUE(Run(events_->End(session_)).ok());
    events_.reset();
    other_.reset();
    redis_.reset();
    other_redis_.reset();
    work_.reset();
    thread_.join();
  }

  template <typename T>
  T Run(asio::awaitable<T> op) {
    return asio::co_spawn(io_, std::move(op), asio::use_future).get();
  }

  redis::Reply Command(std::vector<std::string> args) {
    return Run([&]() -> asio::awaitable<redis::Reply> {
      auto [ec, reply] = co_await redis_->AsyncCommand(std::move(args), kTuple);
      EXPECT_FALSE(ec) << ec.message();
      co_return reply;
    }());
  }

  // Waits up to `wait` for a signal; nullopt when none came.
  std::optional<StreamSignal> NextSignal(const SessionListener& listener,
                                         std::chrono::milliseconds wait) {
    return Run([&]() -> asio::awaitable<std::optional<StreamSignal>> {
      using namespace asio::experimental::awaitable_operators;
      asio::steady_timer timer(co_await asio::this_coro::executor, wait);
      auto got = co_await (listener.signals->AsyncPop(kTuple) || timer.async_wait(kTuple));
      if (got.index() == 1) co_return std::nullopt;
      auto [ec, value] = std::get<0>(got);
      co_return ec ? StreamSignal::kClose : value;
    }());
  }

  redis::RedisEndpoint endpoint_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
  std::shared_ptr<redis::RedisClient> redis_, other_redis_;
  std::unique_ptr<SessionEvents> events_, other_;
  std::string session_;
};

TEST_F(SessionEventsTest, AppendThenReplayAfterAnyId) {
  EXPECT_EQ(*Run(events_->LastId(session_)), "0-0");
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto id = Run(events_->Append(session_, "{\"n\":" + std::to_string(i) + "}"));
    ASSERT_TRUE(id.ok()) << id.status();
    ids.push_back(*id);
  }
  EXPECT_EQ(*Run(other_->LastId(session_)), ids.back());
  auto all = Run(other_->ReadAfter(session_, "0-0"));
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ((*all)[i].id, ids[i]);
    EXPECT_EQ((*all)[i].message, "{\"n\":" + std::to_string(i) + "}");
  }
  auto after = Run(other_->ReadAfter(session_, ids[2]));
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 2u);
  EXPECT_EQ((*after)[0].id, ids[3]);
  auto none = Run(other_->ReadAfter(session_, ids[4]));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  auto limited = Run(other_->ReadAfter(session_, "0-0", 2));
  ASSERT_EQ(limited->size(), 2u);
  EXPECT_EQ((*limited)[1].id, ids[1]);
}

TEST_F(SessionEventsTest, StreamIsBoundedAndExpiresWithTheSession) {
  for (int i = 0; i < 400; ++i) ASSERT_TRUE(Run(events_->Append(session_, "x")).ok());
  int64_t len = Command({"XLEN", SessionEvents::StreamKey(session_)}).integer;
  // MAXLEN ~ trims whole macro nodes: about the bound, never everything.
  EXPECT_GE(len, 20);
  EXPECT_LT(len, 400);
  int64_t ttl = Command({"TTL", SessionEvents::StreamKey(session_)}).integer;
  EXPECT_GT(ttl, 100);
  EXPECT_LE(ttl, 120);

  auto brief = std::make_unique<SessionEvents>(redis_, endpoint_, io_.get_executor(),
                                               std::chrono::seconds(1), 20);
  std::string short_session = session_ + "-brief";
  ASSERT_TRUE(Run(brief->Append(short_session, "x")).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  EXPECT_EQ(Command({"EXISTS", SessionEvents::StreamKey(short_session)}).integer, 0);
  EXPECT_TRUE(Run(brief->ReadAfter(short_session, "0-0"))->empty());
}

TEST_F(SessionEventsTest, AppendOnOneReplicaWakesTheListenerOnAnother) {
  auto listener = Run(events_->Listen(session_));
  ASSERT_TRUE(listener.ok()) << listener.status();
  EXPECT_EQ(events_->listeners(), 1u);
  ASSERT_TRUE(Run(other_->Append(session_, "hello")).ok());
  EXPECT_EQ(NextSignal(*listener, std::chrono::seconds(5)), StreamSignal::kWake);
  other_->Publish(session_, "again");
  EXPECT_EQ(NextSignal(*listener, std::chrono::seconds(5)), StreamSignal::kWake);
  EXPECT_EQ(Run(events_->ReadAfter(session_, "0-0"))->size(), 2u);
  events_->Unlisten(*listener);
  EXPECT_EQ(events_->listeners(), 0u);
}

TEST_F(SessionEventsTest, EndClosesTheListenerAndDeletesTheStream) {
  auto listener = Run(events_->Listen(session_));
  ASSERT_TRUE(listener.ok());
  ASSERT_TRUE(Run(events_->Append(session_, "x")).ok());
  EXPECT_EQ(NextSignal(*listener, std::chrono::seconds(5)), StreamSignal::kWake);
  ASSERT_TRUE(Run(other_->End(session_)).ok());
  EXPECT_EQ(NextSignal(*listener, std::chrono::seconds(5)), StreamSignal::kClose);
  EXPECT_EQ(Command({"EXISTS", SessionEvents::StreamKey(session_)}).integer, 0);
  events_->Unlisten(*listener);
}

TEST_F(SessionEventsTest, ANewListenerReplacesTheOldOneOnAnyReplica) {
  auto first = Run(events_->Listen(session_));
  ASSERT_TRUE(first.ok());
  auto second = Run(other_->Listen(session_));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(NextSignal(*first, std::chrono::seconds(5)), StreamSignal::kClose);
  auto third = Run(other_->Listen(session_));  // same replica: replaced at once
  ASSERT_TRUE(third.ok());
  EXPECT_EQ(NextSignal(*second, std::chrono::seconds(5)), StreamSignal::kClose);
  // The newest stays open and still gets wake-ups; the stale ones' Unlisten changes nothing.
  events_->Unlisten(*first);
  other_->Unlisten(*second);
  ASSERT_TRUE(Run(events_->Append(session_, "x")).ok());
  EXPECT_EQ(NextSignal(*third, std::chrono::seconds(5)), StreamSignal::kWake);
  EXPECT_EQ(other_->listeners(), 1u);
  other_->Unlisten(*third);
}

TEST_F(SessionEventsTest, CloseEndsEveryListener) {
  auto listener = Run(events_->Listen(session_));
  ASSERT_TRUE(listener.ok());
  events_->Close();
  EXPECT_EQ(NextSignal(*listener, std::chrono::seconds(5)), StreamSignal::kClose);
  EXPECT_FALSE(Run(events_->Listen(session_)).ok());
}

}  // namespace
}  // namespace switchboard::edge
