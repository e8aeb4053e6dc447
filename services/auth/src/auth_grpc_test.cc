// AuthGrpc in process, against a registry that streams one snapshot: each call is counted in
// sb_auth_decisions_total with the outcome the edge receives, however the call ended.
#include "services/auth/src/auth_grpc.h"

#include <gtest/gtest.h>

#include <chrono>

#include "services/auth/src/auth_grpc_testing.h"
#include "services/auth/src/jwt_testing.h"

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
