// AuthGrpc in process, against a registry that streams one snapshot: each call is counted in
// sb_auth_decisions_total with the outcome the edge receives, however the call ended.
#include "services/auth/src/auth_grpc.h"

#include <gtest/gtest.h>

#include <chrono>
#include <utility>

#include "services/auth/src/auth_grpc_testing.h"
#include "services/auth/src/jwt_testing.h"
#include "switchboard/common/crypto.h"

namespace switchboard::auth {
namespace {

using testing::Decisions;
using testing::JwksOf;
using testing::MakeJwt;
using testing::TestKey;
using v1::AuthorizeRequest;
using v1::AuthorizeResponse;

constexpr char kJwksUrl[] = "https://login.example.com/jwks";

using AuthGrpcTest = testing::AuthGrpcFixture;

TEST_F(AuthGrpcTest, ATokenDecidedAfterAKeyFetchIsCountedAsItsDecision) {
  TestKey key = TestKey::Ec("k1");
  JwksCacheOptions options;
  options.min_fetch_gap = std::chrono::milliseconds(0);
  JwksCache jwks(
      [&key](const std::string&) -> absl::StatusOr<std::string> { return JwksOf({&key}); },
      options);
  jwks.Start();
  registry::v1::Snapshot s;
  auto* ep = s.add_endpoints();
  ep->set_name("grpc-team");
  ep->set_namespace_("ns");
  ep->set_enable_oauth(true);
  ep->add_oauth_issuers("https://login.example.com");
  ep->set_oauth_jwks_url(kJwksUrl);
  Start(&s, &jwks);

  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  AuthorizeRequest request;
  request.set_endpoint("grpc-team");
  request.set_credential_source("authorization");
  request.set_credential(MakeJwt(key, {{"iss", "https://login.example.com"},
                                       {"aud", "https://mcp.example.com/metamcp/grpc-team/mcp"},
                                       {"sub", "svc-7"},
                                       {"exp", now + 600}}));
  double before = Decisions("grpc-team", "allow");
  AuthorizeResponse response;
  // The cache holds no keys yet: the call waits for one fetch, then is allowed.
  grpc::Status status = Call(request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(response.decision(), AuthorizeResponse::ALLOW) << response.reason();
  EXPECT_EQ(response.user_email(), "svc-7");
  EXPECT_EQ(jwks.fetches(), 1);
  EXPECT_EQ(Decisions("grpc-team", "allow"), before + 1);
  jwks.Stop();
}

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Endpoints with and without limits, a key for each case, and a tool with a per-user limit.
registry::v1::Snapshot ReuseSnapshot() {
  registry::v1::Snapshot s;
  auto* free = s.add_endpoints();
  free->set_name("free");
  free->set_namespace_("ns");
  free->set_enable_api_key_auth(true);
  auto* per_user = s.add_endpoints();
  per_user->set_name("per-user");
  per_user->set_namespace_("ns");
  per_user->set_user_requests_per_minute(600);
  auto* overall = s.add_endpoints();
  overall->set_name("overall");
  overall->set_namespace_("ns");
  overall->set_requests_per_minute(6000);
  auto* ns = s.add_namespaces();
  ns->set_name("ns");
  ns->add_servers()->set_server("github");
  auto* limited = s.add_tool_overrides();
  limited->set_namespace_("ns");
  limited->set_server("github");
  limited->set_tool("create_issue");
  limited->set_user_requests_per_minute(5);
  s.add_users()->set_email("dev@example.com");
  auto* key = s.add_api_keys();
  key->set_id("key-1");
  key->set_user_email("dev@example.com");
  key->set_key_sha256(crypto::Sha256Hex("sk_sb_forever"));
  auto* expiring = s.add_api_keys();
  expiring->set_id("key-2");
  expiring->set_user_email("dev@example.com");
  expiring->set_key_sha256(crypto::Sha256Hex("sk_sb_expiring"));
  expiring->set_expires_unix(NowUnix() + 10);
  auto* scoped = s.add_api_keys();
  scoped->set_id("key-3");
  scoped->set_user_email("dev@example.com");
  scoped->set_key_sha256(crypto::Sha256Hex("sk_sb_scoped"));
  scoped->add_endpoints("overall");
  return s;
}

AuthorizeRequest Question(std::string endpoint, std::string key, std::string tool = "") {
  AuthorizeRequest request;
  request.set_endpoint(std::move(endpoint));
  request.set_credential(std::move(key));
  request.set_credential_source("x-api-key");
  request.set_tool(std::move(tool));
  request.set_remote_address("10.0.0.9");
  return request;
}

TEST_F(AuthGrpcTest, AnAllowNoLimitAppliesToMayBeReusedUnderItsRevision) {
  max_reuse_ = std::chrono::milliseconds(1000);
  registry::v1::Snapshot s = ReuseSnapshot();
  Start(&s, nullptr);
  AuthorizeResponse response;
  ASSERT_TRUE(Call(Question("free", "sk_sb_forever", "get_issue"), &response).ok());
  EXPECT_EQ(response.decision(), AuthorizeResponse::ALLOW) << response.reason();
  EXPECT_EQ(response.reuse_ms(), 1000);
  EXPECT_EQ(response.config_revision(), 1);
}

TEST_F(AuthGrpcTest, NoReuseWhenAnyLimitApplies) {
  // No limiter: the limits are not counted, yet their answers are still never reused.
  max_reuse_ = std::chrono::milliseconds(1000);
  registry::v1::Snapshot s = ReuseSnapshot();
  Start(&s, nullptr);
  for (const AuthorizeRequest& request :
       {Question("per-user", ""), Question("per-user", "sk_sb_forever"), Question("overall", ""),
        Question("free", "sk_sb_forever", "github__create_issue")}) {
    AuthorizeResponse response;
    ASSERT_TRUE(Call(request, &response).ok());
    EXPECT_EQ(response.decision(), AuthorizeResponse::ALLOW)
        << request.endpoint() << " " << response.reason();
    EXPECT_EQ(response.reuse_ms(), 0) << request.endpoint() << " " << request.tool();
  }
  AuthorizeResponse other_tool;
  ASSERT_TRUE(Call(Question("free", "sk_sb_forever", "github__get_issue"), &other_tool).ok());
  EXPECT_EQ(other_tool.reuse_ms(), 1000);
}

TEST_F(AuthGrpcTest, NoRefusalIsReused) {
  max_reuse_ = std::chrono::milliseconds(1000);
  registry::v1::Snapshot s = ReuseSnapshot();
  Start(&s, nullptr);
  std::pair<AuthorizeRequest, AuthorizeResponse::Decision> cases[] = {
      {Question("free", ""), AuthorizeResponse::UNAUTHENTICATED},
      {Question("free", "sk_sb_unknown"), AuthorizeResponse::UNAUTHENTICATED},
      {Question("free", "sk_sb_scoped"), AuthorizeResponse::FORBIDDEN},
      {Question("nosuch", "sk_sb_forever"), AuthorizeResponse::NOT_FOUND},
  };
  for (const auto& [request, decision] : cases) {
    AuthorizeResponse response;
    ASSERT_TRUE(Call(request, &response).ok());
    EXPECT_EQ(response.decision(), decision) << request.credential();
    EXPECT_EQ(response.reuse_ms(), 0) << request.credential();
  }
}

TEST_F(AuthGrpcTest, ReuseEndsBeforeTheKeyExpires) {
  max_reuse_ = std::chrono::milliseconds(60000);
  registry::v1::Snapshot s = ReuseSnapshot();  // the key expires in 10 s
  Start(&s, nullptr);
  AuthorizeResponse expiring;
  ASSERT_TRUE(Call(Question("free", "sk_sb_expiring"), &expiring).ok());
  EXPECT_EQ(expiring.decision(), AuthorizeResponse::ALLOW) << expiring.reason();
  EXPECT_GT(expiring.reuse_ms(), 0);
  EXPECT_LE(expiring.reuse_ms(), 10000);
  AuthorizeResponse forever;
  ASSERT_TRUE(Call(Question("free", "sk_sb_forever"), &forever).ok());
  EXPECT_EQ(forever.reuse_ms(), 60000);
}

TEST_F(AuthGrpcTest, ZeroMaximumTurnsReuseOff) {
  registry::v1::Snapshot s = ReuseSnapshot();
  Start(&s, nullptr);
  AuthorizeResponse response;
  ASSERT_TRUE(Call(Question("free", "sk_sb_forever"), &response).ok());
  EXPECT_EQ(response.decision(), AuthorizeResponse::ALLOW) << response.reason();
  EXPECT_EQ(response.reuse_ms(), 0);
}

TEST_F(AuthGrpcTest, NoConfigurationYetIsUnavailableAndCounted) {
  Start(nullptr, nullptr);
  double before = Decisions("", "unavailable");
  AuthorizeRequest request;
  request.set_endpoint("anything");
  AuthorizeResponse response;
  EXPECT_EQ(Call(request, &response).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(Decisions("", "unavailable"), before + 1);
}

}  // namespace
}  // namespace switchboard::auth
