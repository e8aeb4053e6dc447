#include "switchboard/configwatch/admin_caller.h"

#include <gtest/gtest.h>

#include "switchboard/common/crypto.h"
#include "switchboard/configwatch/config_view.h"

namespace switchboard::configwatch {
namespace {

constexpr int64_t kNow = 1795000000;

class AdminCallerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    registry::v1::Snapshot s;
    auto* admin = s.add_users();
    admin->set_email("root@example.com");
    admin->set_is_admin(true);
    s.add_users()->set_email("dev@example.com");
    AddKey(&s, "k-admin", "root@example.com", "sk_admin", 0);
    AddKey(&s, "k-dev", "dev@example.com", "sk_dev", 0);
    AddKey(&s, "k-old", "root@example.com", "sk_old", kNow - 1);
    AddKey(&s, "k-ghost", "gone@example.com", "sk_ghost", 0);
    view_ = ConfigView::FromSnapshot(s);
    lookup_.find_key = [this](std::string_view sha) { return view_->FindApiKeyBySha256(sha); };
    lookup_.find_user = [this](std::string_view email) { return view_->FindUser(email); };
  }

  static void AddKey(registry::v1::Snapshot* s, std::string id, std::string email,
                     std::string key, int64_t expires) {
    auto* k = s->add_api_keys();
    k->set_id(std::move(id));
    k->set_user_email(std::move(email));
    k->set_key_sha256(crypto::Sha256Hex(key));
    k->set_expires_unix(expires);
  }

  AdminCaller Who(std::string_view authorization, std::string_view token_sha = "") {
    return IdentifyAdminCaller(authorization, token_sha, lookup_, kNow);
  }

  std::shared_ptr<const ConfigView> view_;
  AdminCredentialLookup lookup_;
};

TEST_F(AdminCallerTest, TokenAdminKeysAndMemberKeys) {
  std::string token_sha = crypto::Sha256Hex("the-admin-token");
  AdminCaller token = Who("Bearer the-admin-token", token_sha);
  EXPECT_EQ(token.role, AdminCaller::Role::kAdmin);
  EXPECT_EQ(token.name, "admin-token");
  EXPECT_EQ(Who("Bearer the-admin-token").role, AdminCaller::Role::kNone);  // none configured
  EXPECT_EQ(Who("Bearer sk_admin").role, AdminCaller::Role::kAdmin);
  AdminCaller member = Who("bearer sk_dev");
  EXPECT_EQ(member.role, AdminCaller::Role::kMember);
  EXPECT_EQ(member.name, "dev@example.com");
}

TEST_F(AdminCallerTest, TheServiceTokenIsAServiceNotAnAdmin) {
  std::string admin_sha = crypto::Sha256Hex("the-admin-token");
  std::string service_sha = crypto::Sha256Hex("the-service-token");
  AdminCaller service =
      IdentifyAdminCaller("Bearer the-service-token", admin_sha, lookup_, kNow, service_sha);
  EXPECT_EQ(service.role, AdminCaller::Role::kService);
  EXPECT_EQ(service.name, "service");
  EXPECT_EQ(
      IdentifyAdminCaller("Bearer the-admin-token", admin_sha, lookup_, kNow, service_sha).role,
      AdminCaller::Role::kAdmin);
  // Without a configured service token the same secret is nobody.
  EXPECT_EQ(Who("Bearer the-service-token", admin_sha).role, AdminCaller::Role::kNone);
  EXPECT_EQ(BearerAuthorization("the-service-token"), "Bearer the-service-token");
  EXPECT_EQ(BearerAuthorization(""), "");
}

TEST_F(AdminCallerTest, NoneForMissingExpiredOrOrphanCredentials) {
  for (std::string_view bad : {"", "Bearer ", "Basic c2tfYWRtaW4=", "sk_admin", "Bearer sk_old",
                               "Bearer sk_ghost", "Bearer wrong"}) {
    AdminCaller caller = Who(bad, crypto::Sha256Hex("the-admin-token"));
    EXPECT_EQ(caller.role, AdminCaller::Role::kNone) << bad;
    EXPECT_FALSE(caller.reason.empty());
    EXPECT_EQ(caller.reason.find("sk_"), std::string::npos);
  }
}

TEST(AdminTokenSettingsTest, TheHashIsCheckedAndAClearTokenIsKeptOnlyHashed) {
  std::string sha = crypto::Sha256Hex("the-admin-token");
  EXPECT_TRUE(CheckAdminTokenSha256("").ok());
  EXPECT_TRUE(CheckAdminTokenSha256(sha).ok());
  for (const std::string& bad :
       std::vector<std::string>{sha.substr(1), "the-admin-token", std::string(64, 'A')}) {
    EXPECT_EQ(CheckAdminTokenSha256(bad).code(), absl::StatusCode::kInvalidArgument) << bad;
  }

  std::string token = "the-admin-token";
  std::string token_sha;
  ASSERT_TRUE(HashAdminToken(&token, &token_sha).ok());
  EXPECT_EQ(token_sha, sha);
  EXPECT_TRUE(token.empty());

  std::string none;
  std::string configured = sha;
  ASSERT_TRUE(HashAdminToken(&none, &configured).ok());
  EXPECT_EQ(configured, sha);

  token = "another-token";
  absl::Status both = HashAdminToken(&token, &configured);
  EXPECT_EQ(both.message(), "set admin_token or admin_token_sha256, not both");
  EXPECT_TRUE(token.empty());
  EXPECT_EQ(configured, sha);

  std::string service = "the-service-token";
  std::string service_sha;
  ASSERT_TRUE(HashServiceToken(&service, &service_sha).ok());
  EXPECT_EQ(service_sha, crypto::Sha256Hex("the-service-token"));
  EXPECT_TRUE(service.empty());
  EXPECT_TRUE(CheckServiceTokenSha256(service_sha).ok());
  EXPECT_EQ(CheckServiceTokenSha256("the-service-token").message(),
            "must be the SHA-256 of the service token: 64 lowercase hex digits");
  service = "another";
  EXPECT_EQ(HashServiceToken(&service, &service_sha).message(),
            "set service_token or service_token_sha256, not both");
  EXPECT_TRUE(service.empty());
}

}  // namespace
}  // namespace switchboard::configwatch
