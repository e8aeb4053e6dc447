#include "services/auth/src/jwks_cache.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "services/auth/src/auth_service.h"
#include "services/auth/src/jwt_testing.h"
#include "switchboard/configwatch/config_view.h"

namespace switchboard::auth {
namespace {

using testing::JwksOf;
using testing::MakeJwt;
using testing::TestKey;
using v1::AuthorizeRequest;
using v1::AuthorizeResponse;

constexpr char kUrl[] = "https://login.example.com/jwks";
constexpr auto kWait = std::chrono::seconds(10);

// What the authorization server publishes, changed by the test.
struct Published {
  std::mutex mu;
  std::string document;
  std::atomic<int> served{0};
  bool fail = false;

  JwksFetch Fetch() {
    return [this](const std::string& url) -> absl::StatusOr<std::string> {
      EXPECT_EQ(url, kUrl);
      ++served;
      std::lock_guard lock(mu);
      if (fail) return absl::UnavailableError("HTTP status 503");
      return document;
    };
  }
  void Set(std::string doc) {
    std::lock_guard lock(mu);
    document = std::move(doc);
  }
  void Fail() {
    std::lock_guard lock(mu);
    fail = true;
  }
};

// Refresh, then wait for its callback; false when refused.
bool RefreshAndWait(JwksCache& cache, const std::string& kid) {
  auto done = std::make_shared<std::promise<void>>();
  std::future<void> fired = done->get_future();
  if (!cache.Refresh(kUrl, kid, [done] { done->set_value(); })) return false;
  return fired.wait_for(kWait) == std::future_status::ready;
}

TEST(JwksCacheTest, UnknownKidIsFetchedOnceThenRateLimited) {
  TestKey first = TestKey::Ec("k1");
  TestKey rotated = TestKey::Rsa("k2");
  Published server;
  server.Set(JwksOf({&first}));
  JwksCacheOptions options;
  options.unknown_kid_interval = std::chrono::hours(1);
  options.min_fetch_gap = std::chrono::milliseconds(0);
  JwksCache cache(server.Fetch(), options);
  cache.Start();

  EXPECT_EQ(cache.Find(kUrl, "k1"), nullptr);  // nothing fetched yet, and Find never fetches
  EXPECT_EQ(server.served.load(), 0);
  ASSERT_TRUE(RefreshAndWait(cache, "k1"));
  ASSERT_NE(cache.Find(kUrl, "k1"), nullptr);
  EXPECT_EQ(cache.Find(kUrl, "k1")->alg(), "ES256");

  // The server rotates to k2: the first token naming it refetches; a second refresh for the
  // same kid within the interval is refused (the caller answers 401 at once).
  server.Set(JwksOf({&first, &rotated}));
  EXPECT_EQ(cache.Find(kUrl, "k2"), nullptr);
  ASSERT_TRUE(RefreshAndWait(cache, "k2"));
  EXPECT_NE(cache.Find(kUrl, "k2"), nullptr);
  EXPECT_EQ(server.served.load(), 2);
  EXPECT_FALSE(cache.Refresh(kUrl, "k2", [] { ADD_FAILURE() << "not called when refused"; }));
  EXPECT_FALSE(cache.Refresh(kUrl, "k1", [] {}));  // k1 asked for once already too
  EXPECT_TRUE(RefreshAndWait(cache, "made-up"));   // a new kid may
  EXPECT_FALSE(cache.Refresh(kUrl, "made-up", [] {}));
  EXPECT_EQ(server.served.load(), 3);
  EXPECT_EQ(cache.fetches(), 3);
}

TEST(JwksCacheTest, MinimumGapHoldsWhateverTheKidAndFailuresKeepTheOldKeys) {
  TestKey key = TestKey::Rsa("k1");
  Published server;
  server.Set(JwksOf({&key}));
  JwksCacheOptions options;
  options.min_fetch_gap = std::chrono::hours(1);
  JwksCache cache(server.Fetch(), options);
  cache.Start();
  ASSERT_TRUE(RefreshAndWait(cache, "k1"));
  // Tokens with made-up kids cannot make the cache fetch again within the gap.
  for (int i = 0; i < 50; ++i) {
    EXPECT_FALSE(cache.Refresh(kUrl, "kid-" + std::to_string(i), [] {}));
  }
  EXPECT_EQ(server.served.load(), 1);

  JwksCacheOptions quick;
  quick.min_fetch_gap = std::chrono::milliseconds(0);
  JwksCache second(server.Fetch(), quick);
  second.Start();
  ASSERT_TRUE(RefreshAndWait(second, "k1"));
  server.Fail();
  ASSERT_TRUE(RefreshAndWait(second, "k9"));
  EXPECT_NE(second.Find(kUrl, "k1"), nullptr);  // the failed fetch kept the keys
}

TEST(JwksCacheTest, AKeyRotatedJustAfterAFetchWaitsForTheGapInsteadOfBeingRefused) {
  TestKey first = TestKey::Ec("k1");
  TestKey rotated = TestKey::Rsa("k2");
  Published server;
  server.Set(JwksOf({&first}));
  JwksCacheOptions options;
  options.min_fetch_gap = std::chrono::milliseconds(300);
  JwksCache cache(server.Fetch(), options);
  cache.Start();
  ASSERT_TRUE(RefreshAndWait(cache, "k1"));
  // The new key is published right after that fetch: its first token waits out the gap, then
  // the set is fetched once more and the key is there.
  server.Set(JwksOf({&first, &rotated}));
  ASSERT_TRUE(RefreshAndWait(cache, "k2"));
  EXPECT_NE(cache.Find(kUrl, "k2"), nullptr);
  EXPECT_EQ(server.served.load(), 2);
}

TEST(JwksCacheTest, StopReleasesWaitingRequests) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  JwksCache cache(
      [released](const std::string&) -> absl::StatusOr<std::string> {
        released.wait_for(kWait);
        return absl::UnavailableError("down");
      },
      {});
  cache.Start();
  std::atomic<int> called{0};
  ASSERT_TRUE(cache.Refresh(kUrl, "a", [&] { ++called; }));
  ASSERT_TRUE(cache.Refresh(kUrl, "b", [&] { ++called; }));  // joins the fetch under way
  std::thread stopper([&] { cache.Stop(); });
  release.set_value();
  stopper.join();
  EXPECT_EQ(called.load(), 2);
  EXPECT_FALSE(cache.Refresh(kUrl, "c", [] {}));
}

// Authorize on an OAuth endpoint, with the cache behind find_key and the refetch that
// AuthGrpc makes on a missing key.
TEST(JwksCacheTest, AuthorizeAcceptsATokenOfARotatedKeyAfterOneRefetch) {
  TestKey old_key = TestKey::Rsa("old");
  TestKey new_key = TestKey::Ec("new");
  Published server;
  server.Set(JwksOf({&old_key}));
  JwksCacheOptions options;
  options.min_fetch_gap = std::chrono::milliseconds(0);
  JwksCache cache(server.Fetch(), options);
  cache.Start();
  ASSERT_TRUE(RefreshAndWait(cache, "old"));

  registry::v1::Snapshot s;
  auto* ep = s.add_endpoints();
  ep->set_name("team");
  ep->set_namespace_("ns");
  ep->set_enable_oauth(true);
  ep->add_oauth_issuers("https://login.example.com");
  ep->set_oauth_jwks_url(kUrl);
  auto view = configwatch::ConfigView::FromSnapshot(s);
  OauthOptions oauth;
  oauth.public_base_url = "https://mcp.example.com";
  oauth.find_key = [&cache](const std::string& url, const std::string& kid) {
    return cache.Find(url, kid);
  };
  int64_t now = 1795000000;
  boost::json::object claims{{"iss", "https://login.example.com"},
                             {"aud", "https://mcp.example.com/metamcp/team/mcp"},
                             {"sub", "svc-7"},
                             {"exp", now + 60}};
  AuthorizeRequest request;
  request.set_endpoint("team");
  request.set_credential_source("authorization");
  request.set_credential(MakeJwt(new_key, claims));

  MissingKey missing;
  AuthorizeResponse first = AuthService::Authorize(request, view.get(), now, &oauth, &missing);
  EXPECT_EQ(first.decision(), AuthorizeResponse::UNAUTHENTICATED);
  EXPECT_EQ(first.reason(), "token signed with an unknown key");
  EXPECT_EQ(missing.jwks_url, kUrl);
  EXPECT_EQ(missing.kid, "new");

  server.Set(JwksOf({&old_key, &new_key}));
  ASSERT_TRUE(RefreshAndWait(cache, missing.kid));
  MissingKey none;
  AuthorizeResponse second = AuthService::Authorize(request, view.get(), now, &oauth, &none);
  EXPECT_EQ(second.decision(), AuthorizeResponse::ALLOW) << second.reason();
  EXPECT_EQ(second.user_email(), "svc-7");
  EXPECT_TRUE(none.jwks_url.empty());
}

}  // namespace
}  // namespace switchboard::auth
