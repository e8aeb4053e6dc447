// AuthService on OAuth endpoints: bearer JWTs next to API keys, scopes, and the metadata.
#include <gtest/gtest.h>

#include "services/auth/src/auth_service.h"
#include "services/auth/src/jwt.h"
#include "services/auth/src/jwt_testing.h"
#include "switchboard/common/crypto.h"

namespace switchboard::auth {
namespace {

using testing::MakeJwt;
using testing::TestKey;
using v1::AuthorizeRequest;
using v1::AuthorizeResponse;

constexpr int64_t kNow = 1795000000;
constexpr char kJwks[] = "https://login.example.com/jwks";
constexpr char kApiKey[] = "sk_sb_oauth_test_key";

class OauthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry::v1::Snapshot s;
    auto* oauth_only = s.add_endpoints();
    oauth_only->set_name("team");
    oauth_only->set_namespace_("ns");
    oauth_only->set_enable_api_key_auth(false);
    oauth_only->set_enable_oauth(true);
    oauth_only->add_oauth_issuers("https://login.example.com");
    oauth_only->set_oauth_jwks_url(kJwks);
    oauth_only->add_oauth_required_scopes("mcp:tools");
    oauth_only->add_oauth_required_scopes("read");
    auto* both = s.add_endpoints();
    *both = *oauth_only;
    both->set_name("both");
    both->set_enable_api_key_auth(true);
    both->clear_oauth_required_scopes();
    both->set_oauth_audience("api://switchboard");
    auto* keys_only = s.add_endpoints();
    keys_only->set_name("keys");
    keys_only->set_namespace_("ns");
    keys_only->set_enable_api_key_auth(true);
    s.add_users()->set_email("dev@example.com");
    auto* key = s.add_api_keys();
    key->set_id("key-1");
    key->set_user_email("dev@example.com");
    key->set_key_sha256(crypto::Sha256Hex(kApiKey));
    view_ = configwatch::ConfigView::FromSnapshot(s);

    keys_ = ParseJwks(testing::JwksOf({&signer_})).value();
    oauth_.public_base_url = "https://mcp.example.com/";
    oauth_.clock_skew_seconds = 5;
    oauth_.find_key = [this](const std::string& url, const std::string& kid) {
      EXPECT_EQ(url, kJwks);
      auto it = keys_.find(kid);
      return it == keys_.end() ? nullptr : it->second;
    };
  }

  boost::json::object Claims(std::string aud = "https://mcp.example.com/metamcp/team/mcp") {
    return {{"iss", "https://login.example.com"},
            {"aud", std::move(aud)},
            {"sub", "auth0|42"},
            {"email", "dev@example.com"},
            {"exp", kNow + 600},
            {"scp", boost::json::array{"read", "mcp:tools", "extra"}}};
  }

  AuthorizeResponse Ask(const std::string& endpoint, const std::string& credential,
                        const std::string& source = "authorization",
                        MissingKey* missing = nullptr) {
    AuthorizeRequest r;
    r.set_endpoint(endpoint);
    r.set_credential(credential);
    r.set_credential_source(credential.empty() ? "" : source);
    return AuthService::Authorize(r, view_.get(), kNow, &oauth_, missing);
  }

  TestKey signer_ = TestKey::Ec("k1");
  JwtKeySet keys_;
  OauthOptions oauth_;
  std::shared_ptr<const configwatch::ConfigView> view_;
};

TEST_F(OauthTest, AValidTokenWithTheScopesIsAllowedAsItsEmail) {
  AuthorizeResponse r = Ask("team", MakeJwt(signer_, Claims()));
  EXPECT_EQ(r.decision(), AuthorizeResponse::ALLOW) << r.reason();
  EXPECT_EQ(r.user_email(), "dev@example.com");
  EXPECT_EQ(r.namespace_(), "ns");
  EXPECT_TRUE(r.api_key_id().empty());
  auto claims = Claims();
  claims.erase("email");
  EXPECT_EQ(Ask("team", MakeJwt(signer_, claims)).user_email(), "auth0|42");
}

TEST_F(OauthTest, AnAllowedTokenIsValidUntilItsExpNotItsSkew) {
  AuthorizeRequest r;
  r.set_endpoint("team");
  r.set_credential(MakeJwt(signer_, Claims()));
  r.set_credential_source("authorization");
  int64_t until = 0;
  AuthorizeResponse allowed =
      AuthService::Authorize(r, view_.get(), kNow, &oauth_, nullptr, &until);
  ASSERT_EQ(allowed.decision(), AuthorizeResponse::ALLOW) << allowed.reason();
  EXPECT_EQ(until, kNow + 600);
  // Past exp but within the skew the token is still let in, and may not be reused at all.
  AuthorizeResponse late =
      AuthService::Authorize(r, view_.get(), kNow + 603, &oauth_, nullptr, &until);
  ASSERT_EQ(late.decision(), AuthorizeResponse::ALLOW) << late.reason();
  EXPECT_EQ(AuthService::ReuseMs(1000, until, (kNow + 603) * 1000), 0);
}

TEST_F(OauthTest, NoTokenIs401NamingTheMetadata) {
  AuthorizeResponse r = Ask("team", "");
  EXPECT_EQ(r.decision(), AuthorizeResponse::UNAUTHENTICATED);
  EXPECT_EQ(r.resource_metadata_url(),
            "https://mcp.example.com/.well-known/oauth-protected-resource/metamcp/team/mcp");
  EXPECT_EQ(r.bearer_error(), "");
  r = Ask("both", "");
  EXPECT_EQ(r.decision(), AuthorizeResponse::UNAUTHENTICATED);
  EXPECT_EQ(r.reason(), "an API key or a bearer token is required");
  EXPECT_FALSE(r.resource_metadata_url().empty());
}

TEST_F(OauthTest, MissingScopeIs403InsufficientScope) {
  auto claims = Claims();
  claims.erase("scp");
  claims["scope"] = "read";
  AuthorizeResponse r = Ask("team", MakeJwt(signer_, claims));
  EXPECT_EQ(r.decision(), AuthorizeResponse::FORBIDDEN);
  EXPECT_EQ(r.bearer_error(), "insufficient_scope");
  EXPECT_EQ(r.required_scope(), "mcp:tools read");
  EXPECT_EQ(r.reason(), "the token lacks scope 'mcp:tools'");
  EXPECT_FALSE(r.resource_metadata_url().empty());
}

TEST_F(OauthTest, InvalidTokensAre401InvalidToken) {
  auto expired = Claims();
  expired["exp"] = kNow - 6;
  AuthorizeResponse r = Ask("team", MakeJwt(signer_, expired));
  EXPECT_EQ(r.decision(), AuthorizeResponse::UNAUTHENTICATED);
  EXPECT_EQ(r.bearer_error(), "invalid_token");
  EXPECT_EQ(r.reason(), "token expired");
  // A token for another endpoint (its audience) is no good here.
  r = Ask("team", MakeJwt(signer_, Claims("https://mcp.example.com/metamcp/both/mcp")));
  EXPECT_EQ(r.reason(), "token audience is not this endpoint");
  // Tokens only in the Authorization header: never X-API-Key or the query string.
  r = Ask("team", MakeJwt(signer_, Claims()), "x-api-key");
  EXPECT_EQ(r.decision(), AuthorizeResponse::UNAUTHENTICATED);
  EXPECT_EQ(r.bearer_error(), "invalid_request");
  r = Ask("team", MakeJwt(signer_, Claims()), "query");
  EXPECT_EQ(r.decision(), AuthorizeResponse::UNAUTHENTICATED);
  // An API key on an endpoint that takes only tokens.
  r = Ask("team", kApiKey);
  EXPECT_EQ(r.decision(), AuthorizeResponse::UNAUTHENTICATED);
  EXPECT_EQ(r.reason(), "malformed token");
}

TEST_F(OauthTest, UnknownKidReportsTheKeyToFetch) {
  TestKey stranger = TestKey::Rsa("k-new");
  MissingKey missing;
  AuthorizeResponse r = Ask("team", MakeJwt(stranger, Claims()), "authorization", &missing);
  EXPECT_EQ(r.decision(), AuthorizeResponse::UNAUTHENTICATED);
  EXPECT_EQ(missing.jwks_url, kJwks);
  EXPECT_EQ(missing.kid, "k-new");
}

TEST_F(OauthTest, ApiKeysKeepWorkingWhereTheEndpointTakesThem) {
  AuthorizeResponse r = Ask("both", kApiKey);
  EXPECT_EQ(r.decision(), AuthorizeResponse::ALLOW) << r.reason();
  EXPECT_EQ(r.api_key_id(), "key-1");
  r = Ask("both", kApiKey, "x-api-key");
  EXPECT_EQ(r.decision(), AuthorizeResponse::ALLOW);
  // ...and tokens there carry the endpoint's own audience.
  r = Ask("both", MakeJwt(signer_, Claims("api://switchboard")));
  EXPECT_EQ(r.decision(), AuthorizeResponse::ALLOW) << r.reason();
  EXPECT_EQ(r.user_email(), "dev@example.com");
  // An endpoint without OAuth takes no tokens (a JWT is not one of its keys).
  r = Ask("keys", MakeJwt(signer_, Claims()));
  EXPECT_EQ(r.decision(), AuthorizeResponse::UNAUTHENTICATED);
  EXPECT_EQ(r.reason(), "invalid API key");
  EXPECT_TRUE(r.resource_metadata_url().empty());
}

TEST_F(OauthTest, WithoutOauthOptionsTokensAreRefused) {
  AuthorizeRequest req;
  req.set_endpoint("team");
  req.set_credential(MakeJwt(signer_, Claims()));
  req.set_credential_source("authorization");
  EXPECT_EQ(AuthService::Authorize(req, view_.get(), kNow).decision(),
            AuthorizeResponse::UNAUTHENTICATED);
}

TEST_F(OauthTest, ResourceMetadataOfOauthEndpointsOnly) {
  v1::ResourceMetadataResponse m = AuthService::ResourceMetadata("team", view_.get(), oauth_);
  EXPECT_TRUE(m.found());
  EXPECT_EQ(m.resource(), "https://mcp.example.com/metamcp/team/mcp");
  ASSERT_EQ(m.authorization_servers_size(), 1);
  EXPECT_EQ(m.authorization_servers(0), "https://login.example.com");
  ASSERT_EQ(m.scopes_supported_size(), 2);
  EXPECT_EQ(m.scopes_supported(0), "mcp:tools");
  EXPECT_EQ(AuthService::ResourceMetadata("both", view_.get(), oauth_).resource(),
            "api://switchboard");
  EXPECT_FALSE(AuthService::ResourceMetadata("keys", view_.get(), oauth_).found());
  EXPECT_FALSE(AuthService::ResourceMetadata("nope", view_.get(), oauth_).found());
  EXPECT_FALSE(AuthService::ResourceMetadata("team", nullptr, oauth_).found());
}

}  // namespace
}  // namespace switchboard::auth
