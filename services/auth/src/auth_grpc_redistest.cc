// AuthGrpc with rate limits counted in a real Redis (the `backing` fixture's): a refused
// request reaches the edge as RATE_LIMITED and is counted as such.
#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <thread>

#include "services/auth/src/auth_grpc.h"
#include "services/auth/src/auth_grpc_testing.h"
#include "switchboard/common/crypto.h"

namespace switchboard::auth {
namespace {

namespace asio = boost::asio;
using testing::Decisions;
using v1::AuthorizeRequest;
using v1::AuthorizeResponse;

class AuthGrpcRedisTest : public testing::AuthGrpcFixture {
 protected:
  void SetUp() override {
    const char* url = std::getenv("SB_TEST_REDIS_URL");
    ASSERT_TRUE(url != nullptr && *url != '\0')
        << "SB_TEST_REDIS_URL is not set: run this test through ctest -L redis";
    auto endpoint = redis::ParseRedisUrl(url);
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    redis_ = redis::RedisClient::Create(io_.get_executor(), *endpoint);
    thread_ = std::thread([this] { io_.run(); });
  }

  void TearDown() override {
    AuthGrpcFixture::TearDown();
    if (!thread_.joinable()) return;
    redis_->Close();
    work_.reset();
    thread_.join();
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_ = asio::make_work_guard(io_);
  std::shared_ptr<redis::RedisClient> redis_;
  std::thread thread_;
};

TEST_F(AuthGrpcRedisTest, ARateLimitedRequestIsAnsweredAndCountedAsRateLimited) {
  RateLimiter limiter(redis_, RedisDownPolicy::kFailClosed);
  // A fresh endpoint name: its buckets and counters start empty on every run.
  std::string name = "rl-" + crypto::RandomHex(6);
  registry::v1::Snapshot s;
  auto* ep = s.add_endpoints();
  ep->set_name(name);
  ep->set_namespace_("ns");
  ep->set_user_requests_per_minute(1);
  Start(&s, nullptr, &limiter);

  AuthorizeRequest request;
  request.set_endpoint(name);
  request.set_remote_address("10.0.0.9");
  AuthorizeResponse first;
  ASSERT_TRUE(Call(request, &first).ok());
  EXPECT_EQ(first.decision(), AuthorizeResponse::ALLOW) << first.reason();
  AuthorizeResponse second;
  ASSERT_TRUE(Call(request, &second).ok());
  EXPECT_EQ(second.decision(), AuthorizeResponse::RATE_LIMITED);
  EXPECT_GE(second.retry_after_seconds(), 1);
  EXPECT_EQ(Decisions(name, "allow"), 1);
  EXPECT_EQ(Decisions(name, "rate_limited"), 1);
}

}  // namespace
}  // namespace switchboard::auth
