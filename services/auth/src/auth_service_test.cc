#include "services/auth/src/auth_service.h"

#include <gtest/gtest.h>

#include "switchboard/common/crypto.h"

namespace switchboard::auth {
namespace {

using v1::AuthorizeRequest;
using v1::AuthorizeResponse;

constexpr char kKey[] = "sk_sb_0123456789abcdef";
constexpr int64_t kNow = 1795000000;

std::shared_ptr<const configwatch::ConfigView> MakeView() {
  registry::v1::Snapshot s;
  auto* locked = s.add_endpoints();
  locked->set_name("demo");
  locked->set_namespace_("demo-ns");
  locked->set_enable_api_key_auth(true);
  auto* query = s.add_endpoints();
  query->set_name("query");
  query->set_namespace_("demo-ns");
  query->set_enable_api_key_auth(true);
  query->set_use_query_param_auth(true);
  auto* open = s.add_endpoints();
  open->set_name("open");
  open->set_namespace_("demo-ns");
  auto* user = s.add_users();
  user->set_email("dev@example.com");
  auto* key = s.add_api_keys();
  key->set_id("key-1");
  key->set_user_email("dev@example.com");
  key->set_key_sha256(crypto::Sha256Hex(kKey));
  auto* expiring = s.add_api_keys();
  expiring->set_id("key-3");
  expiring->set_user_email("dev@example.com");
  expiring->set_key_sha256(crypto::Sha256Hex("sk_sb_expiring"));
  expiring->set_expires_unix(kNow + 60);
  auto* scoped = s.add_api_keys();
  scoped->set_id("key-4");
  scoped->set_user_email("dev@example.com");
  scoped->set_key_sha256(crypto::Sha256Hex("sk_sb_scoped"));
  scoped->add_endpoints("query");
  auto* orphan = s.add_api_keys();
  orphan->set_id("key-2");
  orphan->set_user_email("gone@example.com");
  orphan->set_key_sha256(crypto::Sha256Hex("sk_sb_orphan"));
  return configwatch::ConfigView::FromSnapshot(s);
}

AuthorizeResponse Check(std::string endpoint, std::string credential,
                        std::string source = "authorization", int64_t now = kNow) {
  AuthorizeRequest req;
  req.set_endpoint(std::move(endpoint));
  req.set_credential(std::move(credential));
  req.set_credential_source(std::move(source));
  auto view = MakeView();
  return AuthService::Authorize(req, view.get(), now);
}

TEST(AuthServiceTest, AKeyStopsWorkingWhenItExpires) {
  EXPECT_EQ(Check("demo", "sk_sb_expiring", "authorization", kNow + 59).decision(),
            AuthorizeResponse::ALLOW);
  AuthorizeResponse r = Check("demo", "sk_sb_expiring", "authorization", kNow + 60);
  EXPECT_EQ(r.decision(), AuthorizeResponse::UNAUTHENTICATED);
  EXPECT_EQ(r.reason(), "API key expired");
  // On an open endpoint an expired key no longer names anyone.
  EXPECT_EQ(Check("open", "sk_sb_expiring", "authorization", kNow + 60).user_email(), "");
}

TEST(AuthServiceTest, AScopedKeyWorksOnlyOnItsEndpoints) {
  EXPECT_EQ(Check("query", "sk_sb_scoped").decision(), AuthorizeResponse::ALLOW);
  AuthorizeResponse r = Check("demo", "sk_sb_scoped");
  EXPECT_EQ(r.decision(), AuthorizeResponse::FORBIDDEN);
  EXPECT_EQ(r.reason(), "this API key is not valid for this endpoint");
  EXPECT_EQ(Check("open", "sk_sb_scoped").user_email(), "");
}

TEST(AuthServiceTest, ValidKeyIsAllowedWithItsOwner) {
  AuthorizeResponse r = Check("demo", kKey);
  EXPECT_EQ(r.decision(), AuthorizeResponse::ALLOW);
  EXPECT_EQ(r.user_email(), "dev@example.com");
  EXPECT_EQ(r.api_key_id(), "key-1");
  EXPECT_EQ(r.namespace_(), "demo-ns");
}

TEST(AuthServiceTest, MissingOrWrongKeyIsUnauthenticated) {
  EXPECT_EQ(Check("demo", "").decision(), AuthorizeResponse::UNAUTHENTICATED);
  EXPECT_EQ(Check("demo", "sk_sb_wrong").decision(), AuthorizeResponse::UNAUTHENTICATED);
  // A key whose user was deleted no longer works.
  EXPECT_EQ(Check("demo", "sk_sb_orphan").decision(), AuthorizeResponse::UNAUTHENTICATED);
}

TEST(AuthServiceTest, UnknownEndpointIsNotFound) {
  EXPECT_EQ(Check("nope", kKey).decision(), AuthorizeResponse::NOT_FOUND);
}

TEST(AuthServiceTest, QueryKeysOnlyWhereEnabled) {
  EXPECT_EQ(Check("demo", kKey, "query").decision(), AuthorizeResponse::UNAUTHENTICATED);
  EXPECT_EQ(Check("query", kKey, "query").decision(), AuthorizeResponse::ALLOW);
}

TEST(AuthServiceTest, OpenEndpointAllowsAnyone) {
  AuthorizeResponse r = Check("open", "");
  EXPECT_EQ(r.decision(), AuthorizeResponse::ALLOW);
  EXPECT_EQ(r.user_email(), "");
  EXPECT_EQ(Check("open", kKey).user_email(), "dev@example.com");
}

// When the credential behind an answer stops being accepted, for callers that reuse it.
int64_t ValidUntil(std::string endpoint, std::string credential) {
  AuthorizeRequest req;
  req.set_endpoint(std::move(endpoint));
  req.set_credential(std::move(credential));
  req.set_credential_source("authorization");
  auto view = MakeView();
  int64_t until = -1;
  AuthService::Authorize(req, view.get(), kNow, nullptr, nullptr, &until);
  return until;
}

TEST(AuthServiceTest, AnAllowSaysWhenItsKeyExpires) {
  EXPECT_EQ(ValidUntil("demo", "sk_sb_expiring"), kNow + 60);
  EXPECT_EQ(ValidUntil("open", "sk_sb_expiring"), kNow + 60);
  EXPECT_EQ(ValidUntil("demo", kKey), 0);  // a key without expiry
  EXPECT_EQ(ValidUntil("open", ""), 0);
  EXPECT_EQ(ValidUntil("demo", "sk_sb_wrong"), 0);
}

TEST(AuthServiceTest, ReuseIsCappedAndNeverOutlivesTheCredential) {
  constexpr int64_t kNowMs = kNow * 1000 + 250;
  EXPECT_EQ(AuthService::ReuseMs(1000, 0, kNowMs), 1000);
  EXPECT_EQ(AuthService::ReuseMs(1000, kNow + 60, kNowMs), 1000);
  EXPECT_EQ(AuthService::ReuseMs(1000, kNow + 1, kNowMs), 750);
  EXPECT_EQ(AuthService::ReuseMs(1000, kNow, kNowMs), 0);
  EXPECT_EQ(AuthService::ReuseMs(1000, kNow - 5, kNowMs), 0);
  EXPECT_EQ(AuthService::ReuseMs(0, 0, kNowMs), 0);
}

TEST(AuthServiceTest, NoConfigurationYetRefuses) {
  AuthorizeRequest req;
  req.set_endpoint("demo");
  AuthorizeResponse r = AuthService::Authorize(req, nullptr, kNow);
  EXPECT_EQ(r.decision(), AuthorizeResponse::DECISION_UNSPECIFIED);
  EXPECT_EQ(r.reason(), "configuration not loaded yet");
}

}  // namespace
}  // namespace switchboard::auth
