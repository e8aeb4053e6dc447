#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "switchboard/common/crypto.h"
#include "switchboard/redis/client.h"
#include "switchboard/redis/subscriber.h"
#include "switchboard/redis/testing.h"

namespace switchboard::redis {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

class RedisSubscriberTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto endpoint = testing::TestRedisEndpoint();
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    endpoint_ = *endpoint;
    prefix_ = "sbtest:sub:" + crypto::RandomHex(8) + ":";
    thread_ = std::thread([this] { ctx_.run(); });
    publisher_ = RedisClient::Create(ctx_.get_executor(), endpoint_);
    subscriber_ = RedisSubscriber::Create(
        ctx_.get_executor(), endpoint_,
        [this](const std::string& channel, std::string payload) {
          std::lock_guard<std::mutex> lock(mu_);
          received_.emplace_back(channel, std::move(payload));
          cv_.notify_all();
        },
        [this] {
          std::lock_guard<std::mutex> lock(mu_);
          ++reconnects_;
          cv_.notify_all();
        });
  }

  void TearDown() override {
    subscriber_.reset();
    publisher_.reset();
    work_.reset();
    if (thread_.joinable()) thread_.join();
  }

  error_code Subscribe(const std::string& channel) {
    return asio::co_spawn(
               ctx_,
               [&]() -> asio::awaitable<error_code> {
                 auto [ec] = co_await subscriber_->AsyncSubscribe(channel, kTuple);
                 co_return ec;
               }(),
               asio::use_future)
        .get();
  }

  Reply Command(std::vector<std::string> args) {
    return asio::co_spawn(
               ctx_,
               [&]() -> asio::awaitable<Reply> {
                 auto [ec, reply] = co_await publisher_->AsyncCommand(std::move(args), kTuple);
                 EXPECT_FALSE(ec) << ec.message();
                 co_return reply;
               }(),
               asio::use_future)
        .get();
  }

  bool WaitForMessages(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(5), [&] { return received_.size() >= n; });
  }

  RedisEndpoint endpoint_;
  std::string prefix_;
  asio::io_context ctx_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ctx_.get_executor()};
  std::thread thread_;
  std::shared_ptr<RedisClient> publisher_;
  std::shared_ptr<RedisSubscriber> subscriber_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::pair<std::string, std::string>> received_;
  int reconnects_ = 0;
};

TEST_F(RedisSubscriberTest, DeliversMessagesOfSubscribedChannelsInOrder) {
  std::string a = prefix_ + "a", b = prefix_ + "b";
  ASSERT_FALSE(Subscribe(a));
  ASSERT_FALSE(Subscribe(b));
  ASSERT_FALSE(Subscribe(a));  // idempotent
  EXPECT_EQ(Command({"PUBLISH", a, "one"}).integer, 1);
  EXPECT_EQ(Command({"PUBLISH", b, "two"}).integer, 1);
  EXPECT_EQ(Command({"PUBLISH", prefix_ + "other", "x"}).integer, 0);
  EXPECT_EQ(Command({"PUBLISH", a, "three"}).integer, 1);
  ASSERT_TRUE(WaitForMessages(3));
  std::lock_guard<std::mutex> lock(mu_);
  ASSERT_EQ(received_.size(), 3u);
  EXPECT_EQ(received_[0], std::make_pair(a, std::string("one")));
  EXPECT_EQ(received_[1], std::make_pair(b, std::string("two")));
  EXPECT_EQ(received_[2], std::make_pair(a, std::string("three")));
}

TEST_F(RedisSubscriberTest, UnsubscribeStopsDelivery) {
  std::string a = prefix_ + "a", b = prefix_ + "b";
  ASSERT_FALSE(Subscribe(a));
  ASSERT_FALSE(Subscribe(b));
  subscriber_->Unsubscribe(a);
  // PUBLISH counts receivers: poll until Redis has processed the UNSUBSCRIBE.
  for (int i = 0; i < 100 && Command({"PUBLISH", a, "probe"}).integer != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(Command({"PUBLISH", a, "late"}).integer, 0);
  EXPECT_EQ(Command({"PUBLISH", b, "still"}).integer, 1);
  ASSERT_TRUE(WaitForMessages(1));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [channel, payload] : received_) EXPECT_NE(payload, "late");
  EXPECT_EQ(received_.back().second, "still");
}

TEST_F(RedisSubscriberTest, ResubscribesAfterTheConnectionIsKilled) {
  std::string a = prefix_ + "a";
  std::string name = prefix_ + "conn";
  ASSERT_FALSE(Subscribe(a));
  // Find the subscriber's connection (the one in pub/sub mode with our channel) and kill it.
  Reply list = Command({"CLIENT", "LIST", "TYPE", "pubsub"});
  ASSERT_TRUE(list.IsString());
  int killed = 0;
  size_t pos = 0;
  while (pos < list.str.size()) {
    size_t end = list.str.find('\n', pos);
    std::string line = list.str.substr(pos, end == std::string::npos ? end : end - pos);
    pos = end == std::string::npos ? list.str.size() : end + 1;
    size_t id_at = line.find("id=");
    if (id_at == std::string::npos) continue;
    std::string id = line.substr(id_at + 3, line.find(' ', id_at) - id_at - 3);
    // Only this test's subscriber listens on its random channel; check each candidate.
    Reply n = Command({"PUBSUB", "NUMSUB", a});
    if (n.IsArray() && n.elements.size() == 2 && n.elements[1].integer == 1) {
      Command({"CLIENT", "KILL", "ID", id});
      if (Command({"PUBSUB", "NUMSUB", a}).elements[1].integer == 0) {
        ++killed;
        break;
      }
    }
  }
  ASSERT_EQ(killed, 1);
  {
    std::unique_lock<std::mutex> lock(mu_);
    ASSERT_TRUE(cv_.wait_for(lock, std::chrono::seconds(5), [&] { return reconnects_ == 1; }));
  }
  EXPECT_EQ(Command({"PUBLISH", a, "after"}).integer, 1);
  ASSERT_TRUE(WaitForMessages(1));
  std::lock_guard<std::mutex> lock(mu_);
  EXPECT_EQ(received_.back().second, "after");
}

TEST_F(RedisSubscriberTest, SubscribeAfterCloseFails) {
  subscriber_->Close();
  EXPECT_EQ(Subscribe(prefix_ + "a"), error_code(Error::kClosed));
}

}  // namespace
}  // namespace switchboard::redis
