// The rate-limit script's decisions against a real Redis (the `backing` fixture's).
#include "services/auth/src/rate_limiter.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <future>
#include <memory>

#include "switchboard/common/crypto.h"
#include "switchboard/redis/testing.h"

namespace switchboard::auth {
namespace {

namespace asio = boost::asio;

// A port on 127.0.0.1 where nothing listens (bound, then released).
uint16_t ClosedPort() {
  asio::io_context io;
  asio::ip::tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

class RateLimiterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto endpoint = redis::testing::TestRedisEndpoint();
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    endpoint_ = *endpoint;
    prefix_ = "sbtest:rl:{" + crypto::RandomHex(8) + "}:";
    redis_ = std::make_unique<redis::testing::ThreadedClient>(endpoint_);
  }

  void TearDown() override {
    if (redis_ == nullptr) return;
    Command({"EVAL", "for _, k in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', k) end",
             "0", prefix_ + "*"});
    redis_.reset();
  }

  redis::Reply Command(std::vector<std::string> args) { return redis_->Command(std::move(args)); }

  static absl::StatusOr<LimitDecision> Check(RateLimiter& limiter, std::vector<Limit> limits) {
    std::promise<absl::StatusOr<LimitDecision>> p;
    limiter.Check(std::move(limits),
                  [&p](absl::StatusOr<LimitDecision> d) { p.set_value(std::move(d)); });
    return p.get_future().get();
  }

  Limit L(std::string name, int32_t per_minute, std::string scope = "user") {
    return Limit{prefix_ + name, per_minute, std::move(scope)};
  }

  // How many of `n` checks of `limits` are allowed.
  int Allowed(RateLimiter& limiter, const std::vector<Limit>& limits, int n) {
    int allowed = 0;
    for (int i = 0; i < n; ++i) {
      auto d = Check(limiter, limits);
      EXPECT_TRUE(d.ok()) << d.status();
      if (d.ok() && d->allowed) ++allowed;
    }
    return allowed;
  }

  redis::RedisEndpoint endpoint_;
  std::string prefix_;
  std::unique_ptr<redis::testing::ThreadedClient> redis_;
};

TEST_F(RateLimiterTest, AMinutesWorthAtOnceThenRefusedWithRetryAfter) {
  RateLimiter limiter(redis_->client(), RedisDownPolicy::kFailClosed);
  std::vector<Limit> limits = {L("u", 10)};
  EXPECT_EQ(Allowed(limiter, limits, 10), 10);
  auto refused = Check(limiter, limits);
  ASSERT_TRUE(refused.ok()) << refused.status();
  EXPECT_FALSE(refused->allowed);
  EXPECT_EQ(refused->scope, "user");
  // One request frees up every 6 s at 10 a minute.
  EXPECT_GE(refused->retry_after_seconds, 1);
  EXPECT_LE(refused->retry_after_seconds, 6);
  // The bucket expires by itself, within the minute plus a margin.
  redis::Reply ttl = Command({"PTTL", prefix_ + "u"});
  EXPECT_GT(ttl.integer, 0);
  EXPECT_LE(ttl.integer, 61000);
}

TEST_F(RateLimiterTest, EveryLimitMustAllowAndARefusalChargesNone) {
  RateLimiter limiter(redis_->client(), RedisDownPolicy::kFailClosed);
  // The tool limit (2) is the tighter one: the third call is refused by it, and the user's and
  // endpoint's buckets are not charged for refused calls.
  std::vector<Limit> both = {L("user", 5, "user"), L("all", 100, "endpoint"),
                             L("tool", 2, "tool")};
  EXPECT_EQ(Allowed(limiter, both, 2), 2);
  for (int i = 0; i < 5; ++i) {
    auto d = Check(limiter, both);
    ASSERT_TRUE(d.ok());
    EXPECT_FALSE(d->allowed);
    EXPECT_EQ(d->scope, "tool");
  }
  // Without the tool, the user has 3 of 5 left.
  EXPECT_EQ(Allowed(limiter, {L("user", 5, "user"), L("all", 100, "endpoint")}, 10), 3);
}

TEST_F(RateLimiterTest, BucketsAreIndependent) {
  RateLimiter limiter(redis_->client(), RedisDownPolicy::kFailClosed);
  EXPECT_EQ(Allowed(limiter, {L("alice", 3)}, 5), 3);
  EXPECT_EQ(Allowed(limiter, {L("bob", 3)}, 5), 3);
}

TEST_F(RateLimiterTest, SharedAcrossLimitersAsAcrossReplicas) {
  RateLimiter a(redis_->client(), RedisDownPolicy::kFailClosed);
  auto other = redis::RedisClient::Create(redis_->executor(), endpoint_);
  RateLimiter b(other, RedisDownPolicy::kFailClosed);
  std::vector<Limit> limits = {L("shared", 6)};
  int allowed = 0;
  for (int i = 0; i < 10; ++i) {
    allowed += Allowed(i % 2 == 0 ? a : b, limits, 1);
  }
  EXPECT_EQ(allowed, 6);
  other->Close();
}

TEST_F(RateLimiterTest, ReloadsTheScriptAfterRedisForgetsIt) {
  RateLimiter limiter(redis_->client(), RedisDownPolicy::kFailClosed);
  EXPECT_EQ(Allowed(limiter, {L("flush", 4)}, 1), 1);
  EXPECT_TRUE(Command({"SCRIPT", "FLUSH"}).IsOk());
  EXPECT_EQ(Allowed(limiter, {L("flush", 4)}, 5), 3);
  redis::Reply exists = Command({"SCRIPT", "EXISTS", crypto::Sha1Hex(RateLimiter::Script())});
  ASSERT_TRUE(exists.IsArray());
  EXPECT_EQ(exists.elements.at(0).integer, 1);
}

TEST_F(RateLimiterTest, NoLimitsNeedNoRedis) {
  redis::RedisEndpoint nowhere;
  nowhere.port = ClosedPort();
  RateLimiter limiter(redis::RedisClient::Create(redis_->executor(), nowhere),
                      RedisDownPolicy::kFailClosed);
  auto d = Check(limiter, {});
  ASSERT_TRUE(d.ok());
  EXPECT_TRUE(d->allowed);
  EXPECT_EQ(limiter.redis_failures(), 0u);
}

TEST_F(RateLimiterTest, UnreachableRedisFollowsThePolicy) {
  redis::RedisEndpoint nowhere;
  nowhere.port = ClosedPort();
  auto client = redis::RedisClient::Create(redis_->executor(), nowhere);
  RateLimiter closed(client, RedisDownPolicy::kFailClosed);
  auto refused = Check(closed, {L("x", 1)});
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(closed.redis_failures(), 1u);

  RateLimiter open(client, RedisDownPolicy::kFailOpen);
  for (int i = 0; i < 3; ++i) {
    auto let_through = Check(open, {L("x", 1)});
    ASSERT_TRUE(let_through.ok());
    EXPECT_TRUE(let_through->allowed);
    EXPECT_TRUE(let_through->unchecked);
  }
  EXPECT_EQ(open.redis_failures(), 3u);
  client->Close();
}

TEST(RedisDownPolicyTest, ParsesItsTwoNames) {
  EXPECT_EQ(*ParseRedisDownPolicy("fail-open"), RedisDownPolicy::kFailOpen);
  EXPECT_EQ(*ParseRedisDownPolicy("fail-closed"), RedisDownPolicy::kFailClosed);
  EXPECT_FALSE(ParseRedisDownPolicy("open").ok());
  EXPECT_FALSE(ParseRedisDownPolicy("").ok());
}

}  // namespace
}  // namespace switchboard::auth
