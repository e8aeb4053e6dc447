#include "services/edge/src/origin.h"

#include <gtest/gtest.h>

namespace switchboard::edge {
namespace {

TEST(ParseOriginTest, Normalises) {
  auto o = ParseOrigin("HTTPS://App.Example.COM");
  ASSERT_TRUE(o);
  EXPECT_EQ(o->scheme, "https");
  EXPECT_EQ(o->host, "app.example.com");
  EXPECT_EQ(o->port, 443);
  EXPECT_EQ(ParseOrigin("http://localhost")->port, 80);
  EXPECT_EQ(ParseOrigin("http://[::1]:8080")->host, "[::1]");
  EXPECT_EQ(ParseOrigin("http://[::1]:8080")->port, 8080);
  EXPECT_EQ(*ParseOrigin("https://a.example:443/"), *ParseOrigin("https://a.example"));
}

TEST(ParseOriginTest, RejectsNonOrigins) {
  for (const char* bad : {"null", "", "localhost", "file:///etc", "ftp://x", "http://",
                          "http://host:", "http://host:99999", "http://host:8a", "http://[::1",
                          "http://[::1]x", "http://ho st", "http://a/b"}) {
    EXPECT_FALSE(ParseOrigin(bad)) << bad;
  }
}

TEST(OriginPolicyTest, EmptyListAllowsLoopbackOnly) {
  OriginPolicy policy;
  for (const char* ok : {"http://localhost", "http://localhost:5173", "https://localhost:8443",
                         "http://127.0.0.1:3000", "http://[::1]:6274", "HTTP://LOCALHOST"}) {
    EXPECT_TRUE(policy.IsAllowed(ok)) << ok;
  }
  for (const char* bad :
       {"https://example.com", "http://localhost.evil.com", "http://127.0.0.1.nip.io",
        "http://evil.com:80", "null", "http://192.168.1.10:3000", "http://[::2]"}) {
    EXPECT_FALSE(policy.IsAllowed(bad)) << bad;
  }
}

TEST(OriginPolicyTest, ExplicitListIsExact) {
  auto policy = OriginPolicy::Create({"https://app.example.com", "http://localhost:3000"});
  ASSERT_TRUE(policy.ok());
  EXPECT_TRUE(policy->IsAllowed("https://app.example.com"));
  EXPECT_TRUE(policy->IsAllowed("https://app.example.com:443"));
  EXPECT_TRUE(policy->IsAllowed("http://localhost:3000"));
  EXPECT_FALSE(policy->IsAllowed("http://app.example.com"));
  EXPECT_FALSE(policy->IsAllowed("https://app.example.com:8443"));
  EXPECT_FALSE(policy->IsAllowed("http://localhost:3001"));
  EXPECT_FALSE(policy->IsAllowed("https://sub.app.example.com"));
}

TEST(OriginPolicyTest, StarAllowsAny) {
  auto policy = OriginPolicy::Create({"*"});
  ASSERT_TRUE(policy.ok());
  EXPECT_TRUE(policy->IsAllowed("https://anything.example"));
  EXPECT_TRUE(policy->IsAllowed("null"));
}

TEST(OriginPolicyTest, RejectsBadEntries) {
  EXPECT_FALSE(OriginPolicy::Create({"app.example.com"}).ok());
  EXPECT_FALSE(OriginPolicy::Create({"https://ok.example", "https://x.example/path"}).ok());
}

}  // namespace
}  // namespace switchboard::edge
