// AuthGrpc with rate limits counted in a real Redis (the `backing` fixture's): a refused
// request reaches the edge as RATE_LIMITED and is counted as such.
#include <gtest/gtest.h>

#include <memory>

#include "services/auth/src/auth_grpc.h"
#include "services/auth/src/auth_grpc_testing.h"
#include "switchboard/common/crypto.h"
#include "switchboard/redis/testing.h"

namespace switchboard::auth {
namespace {

using testing::Decisions;
using v1::AuthorizeRequest;
using v1::AuthorizeResponse;

class AuthGrpcRedisTest : public testing::AuthGrpcFixture {
 protected:
  void SetUp() override {
    auto endpoint = redis::testing::TestRedisEndpoint();
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    redis_ = std::make_unique<redis::testing::ThreadedClient>(*endpoint);
  }

  void TearDown() override {
    AuthGrpcFixture::TearDown();
    redis_.reset();
  }

  std::unique_ptr<redis::testing::ThreadedClient> redis_;
};

TEST_F(AuthGrpcRedisTest, ARateLimitedRequestIsAnsweredAndCountedAsRateLimited) {
  RateLimiter limiter(redis_->client(), RedisDownPolicy::kFailClosed);
  // A fresh endpoint name: its buckets and counters start empty on every run.
  std::string name = "rl-" + crypto::RandomHex(6);
  registry::v1::Snapshot s;
  auto* ep = s.add_endpoints();
  ep->set_name(name);
  ep->set_namespace_("ns");
  ep->set_user_requests_per_minute(1);
  max_reuse_ = std::chrono::milliseconds(1000);
  Start(&s, nullptr, &limiter);

  AuthorizeRequest request;
  request.set_endpoint(name);
  request.set_remote_address("10.0.0.9");
  AuthorizeResponse first;
  ASSERT_TRUE(Call(request, &first).ok());
  EXPECT_EQ(first.decision(), AuthorizeResponse::ALLOW) << first.reason();
  EXPECT_EQ(first.reuse_ms(), 0);  // the next one must be counted too
  AuthorizeResponse second;
  ASSERT_TRUE(Call(request, &second).ok());
  EXPECT_EQ(second.decision(), AuthorizeResponse::RATE_LIMITED);
  EXPECT_GE(second.retry_after_seconds(), 1);
  EXPECT_EQ(second.reuse_ms(), 0);
  EXPECT_EQ(Decisions(name, "allow"), 1);
  EXPECT_EQ(Decisions(name, "rate_limited"), 1);
}

}  // namespace
}  // namespace switchboard::auth
