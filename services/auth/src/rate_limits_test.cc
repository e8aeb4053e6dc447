#include "services/auth/src/rate_limits.h"

#include <gtest/gtest.h>

namespace switchboard::auth {
namespace {

std::shared_ptr<const configwatch::ConfigView> MakeView() {
  registry::v1::Snapshot s;
  auto* ep = s.add_endpoints();
  ep->set_name("team");
  ep->set_namespace_("ns");
  ep->set_user_requests_per_minute(60);
  ep->set_requests_per_minute(600);
  auto* free = s.add_endpoints();
  free->set_name("free");
  free->set_namespace_("ns");
  auto* ns = s.add_namespaces();
  ns->set_name("ns");
  ns->add_servers()->set_server("github");
  auto* solo = s.add_namespaces();
  solo->set_name("solo");
  solo->set_disable_prefix(true);
  solo->add_servers()->set_server("echo");
  auto* solo_ep = s.add_endpoints();
  solo_ep->set_name("solo");
  solo_ep->set_namespace_("solo");
  auto* limited = s.add_tool_overrides();
  limited->set_namespace_("ns");
  limited->set_server("github");
  limited->set_tool("create_issue");
  limited->set_user_requests_per_minute(5);
  auto* renamed = s.add_tool_overrides();
  renamed->set_namespace_("ns");
  renamed->set_server("github");
  renamed->set_tool("search_code");
  renamed->set_name("search");
  renamed->set_user_requests_per_minute(7);
  auto* unlimited = s.add_tool_overrides();
  unlimited->set_namespace_("ns");
  unlimited->set_server("github");
  unlimited->set_tool("get_issue");
  unlimited->set_title("Get an issue");
  auto* bare = s.add_tool_overrides();
  bare->set_namespace_("solo");
  bare->set_server("echo");
  bare->set_tool("echo");
  bare->set_user_requests_per_minute(3);
  return configwatch::ConfigView::FromSnapshot(s);
}

std::vector<Limit> For(std::string endpoint, std::string user, std::string tool = "") {
  v1::AuthorizeRequest request;
  request.set_endpoint(std::move(endpoint));
  request.set_tool(std::move(tool));
  request.set_remote_address("10.0.0.9");
  v1::AuthorizeResponse allowed;
  allowed.set_decision(v1::AuthorizeResponse::ALLOW);
  allowed.set_user_email(std::move(user));
  return LimitsFor(request, allowed, *MakeView());
}

TEST(RateLimitsTest, EndpointLimitsPerUserAndOverall) {
  auto limits = For("team", "dev@example.com");
  ASSERT_EQ(limits.size(), 2u);
  EXPECT_EQ(limits[0].key, "sb:rl:{team}:user:dev@example.com");
  EXPECT_EQ(limits[0].per_minute, 60);
  EXPECT_EQ(limits[0].scope, "user");
  EXPECT_EQ(limits[1].key, "sb:rl:{team}:all");
  EXPECT_EQ(limits[1].per_minute, 600);
  EXPECT_EQ(limits[1].scope, "endpoint");
}

TEST(RateLimitsTest, AnonymousCallersAreCountedByAddress) {
  auto limits = For("team", "");
  ASSERT_EQ(limits.size(), 2u);
  EXPECT_EQ(limits[0].key, "sb:rl:{team}:anon:10.0.0.9");
}

TEST(RateLimitsTest, NoLimitsConfiguredNoLimits) {
  EXPECT_TRUE(For("free", "dev@example.com").empty());
  EXPECT_TRUE(For("unknown", "dev@example.com").empty());
}

TEST(RateLimitsTest, ToolOverrideAddsAPerUserToolLimit) {
  auto limits = For("team", "dev@example.com", "github__create_issue");
  ASSERT_EQ(limits.size(), 3u);
  EXPECT_EQ(limits[2].key, "sb:rl:{team}:tool:github/create_issue:user:dev@example.com");
  EXPECT_EQ(limits[2].per_minute, 5);
  EXPECT_EQ(limits[2].scope, "tool");
  // The same limit on another endpoint serving the namespace counts separately.
  auto other = For("free", "dev@example.com", "github__create_issue");
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].key, "sb:rl:{free}:tool:github/create_issue:user:dev@example.com");
}

TEST(RateLimitsTest, ToolFoundByItsNewNameOrWithoutPrefix) {
  auto renamed = For("free", "dev@example.com", "search");
  ASSERT_EQ(renamed.size(), 1u);
  EXPECT_EQ(renamed[0].per_minute, 7);
  auto bare = For("solo", "dev@example.com", "echo");
  ASSERT_EQ(bare.size(), 1u);
  EXPECT_EQ(bare[0].per_minute, 3);
}

TEST(RateLimitsTest, OverridesWithoutALimitAndUnknownToolsAddNone) {
  EXPECT_TRUE(For("free", "dev@example.com", "github__get_issue").empty());
  EXPECT_TRUE(For("free", "dev@example.com", "github__nope").empty());
  EXPECT_TRUE(For("free", "dev@example.com", "no-separator").empty());
}

}  // namespace
}  // namespace switchboard::auth
