#include "services/edge/src/auth_answers.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace switchboard::edge {
namespace {

using std::chrono::milliseconds;
using Clock = AuthAnswers::Clock;

constexpr int64_t kRevision = 7;

AuthQuery Query(std::string credential = "sk_sb_secret", std::string endpoint = "team",
                std::string tool = "github__search") {
  AuthQuery query;
  query.endpoint = std::move(endpoint);
  query.credential = std::move(credential);
  query.credential_source = "x-api-key";
  query.tool = std::move(tool);
  query.session_id = "s-1";
  query.remote_address = "10.0.0.1";
  return query;
}

AuthResult Allow(milliseconds reuse = milliseconds(1000), int64_t revision = kRevision) {
  AuthResult answer;
  answer.decision = AuthResult::Decision::kAllow;
  answer.user_email = "ada@example.com";
  answer.api_key_id = "k1";
  answer.namespace_name = "ns";
  answer.reuse = reuse;
  answer.config_revision = revision;
  return answer;
}

class AuthAnswersTest : public ::testing::Test {
 protected:
  void SetUp() override { answers_.SetRevision(kRevision); }

  AuthAnswers answers_;
  Clock::time_point now_ = Clock::now();
};

TEST_F(AuthAnswersTest, AStoredAllowIsFoundForTheSameQuery) {
  answers_.Store(AuthAnswers::KeyOf(Query()), Allow(), now_);
  std::optional<AuthResult> found = answers_.Find(AuthAnswers::KeyOf(Query()), now_);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->decision, AuthResult::Decision::kAllow);
  EXPECT_EQ(found->user_email, "ada@example.com");
  EXPECT_EQ(found->api_key_id, "k1");
  EXPECT_EQ(found->namespace_name, "ns");
}

TEST_F(AuthAnswersTest, AnAnswerEndsAtItsReusePeriodCountedFromTheQuestion) {
  answers_.Store(AuthAnswers::KeyOf(Query()), Allow(milliseconds(1000)), now_);
  std::string key = AuthAnswers::KeyOf(Query());
  EXPECT_TRUE(answers_.Find(key, now_ + milliseconds(999)).has_value());
  EXPECT_FALSE(answers_.Find(key, now_ + milliseconds(1000)).has_value());
  EXPECT_EQ(answers_.size(), 0u);  // an expired answer found is dropped
  // Asked longer ago than the period: already over when the answer comes.
  answers_.Store(key, Allow(milliseconds(1000)), Clock::now() - milliseconds(2000));
  EXPECT_EQ(answers_.size(), 0u);
}

TEST_F(AuthAnswersTest, ANewRevisionDropsEveryAnswer) {
  answers_.Store(AuthAnswers::KeyOf(Query()), Allow(), now_);
  answers_.Store(AuthAnswers::KeyOf(Query("other")), Allow(), now_);
  answers_.SetRevision(kRevision);  // the same view again: nothing changes
  EXPECT_EQ(answers_.size(), 2u);
  answers_.SetRevision(kRevision + 1);
  EXPECT_EQ(answers_.size(), 0u);
  EXPECT_FALSE(answers_.Find(AuthAnswers::KeyOf(Query()), now_).has_value());
}

TEST_F(AuthAnswersTest, OnlyAnswersDecidedUnderTheCurrentRevisionAreKept) {
  std::string key = AuthAnswers::KeyOf(Query());
  answers_.Store(key, Allow(milliseconds(1000), kRevision - 1), now_);  // auth lagged behind
  answers_.Store(key, Allow(milliseconds(1000), kRevision + 1), now_);  // the edge lags behind
  EXPECT_EQ(answers_.size(), 0u);
  AuthAnswers fresh;  // no configuration yet
  fresh.Store(key, Allow(milliseconds(1000), 0), now_);
  EXPECT_EQ(fresh.size(), 0u);
}

TEST_F(AuthAnswersTest, RefusalsAndAnswersWithoutReuseAreNotKept) {
  std::string key = AuthAnswers::KeyOf(Query());
  answers_.Store(key, Allow(milliseconds(0)), now_);
  AuthResult limited = Allow();
  limited.decision = AuthResult::Decision::kRateLimited;
  answers_.Store(key, limited, now_);
  AuthResult refused = Allow();
  refused.decision = AuthResult::Decision::kForbidden;
  answers_.Store(key, refused, now_);
  EXPECT_EQ(answers_.size(), 0u);
  EXPECT_FALSE(answers_.Find(key, now_).has_value());
}

TEST_F(AuthAnswersTest, AnyDifferenceInTheQuestionMisses) {
  answers_.Store(AuthAnswers::KeyOf(Query()), Allow(), now_);
  std::vector<AuthQuery> others = {Query("sk_sb_secreT"), Query("sk_sb_secret", "other-team"),
                                   Query("sk_sb_secret", "team", "github__create_issue"),
                                   Query("sk_sb_secret", "team", "")};
  AuthQuery other_source = Query();
  other_source.credential_source = "authorization";
  others.push_back(other_source);
  AuthQuery other_address = Query();
  other_address.remote_address = "10.0.0.2";
  others.push_back(other_address);
  // Fields that run into each other do not make the same question.
  others.push_back(Query("sk_sb_secret", "tea", "mgithub__search"));
  for (const AuthQuery& other : others) {
    EXPECT_FALSE(answers_.Find(AuthAnswers::KeyOf(other), now_).has_value())
        << other.endpoint << " " << other.tool << " " << other.credential_source;
  }
  // The session is not part of the question: auth does not decide by it.
  AuthQuery other_session = Query();
  other_session.session_id = "s-2";
  EXPECT_TRUE(answers_.Find(AuthAnswers::KeyOf(other_session), now_).has_value());
}

TEST_F(AuthAnswersTest, TheKeyNeverHoldsTheCredential) {
  std::string key = AuthAnswers::KeyOf(Query("sk_sb_secret"));
  EXPECT_EQ(key.find("sk_sb_secret"), std::string::npos);
  EXPECT_EQ(key.size(), 64u);
  // A long tool name (clients choose it) does not make a longer key.
  EXPECT_EQ(AuthAnswers::KeyOf(Query("k", "team", std::string(100000, 'x'))).size(), 64u);
}

TEST_F(AuthAnswersTest, TheMapStaysWithinItsBound) {
  AuthAnswers bounded(80);
  bounded.SetRevision(kRevision);
  for (int i = 0; i < 1000; ++i) {
    bounded.Store(AuthAnswers::KeyOf(Query("key-" + std::to_string(i))), Allow(), now_);
    ASSERT_LE(bounded.size(), 80u);
  }
  // The newest answer is always kept.
  EXPECT_TRUE(bounded.Find(AuthAnswers::KeyOf(Query("key-999")), now_).has_value());
  // Expired answers go first: a full map of them makes room without dropping the live ones.
  AuthAnswers expiring(4);
  expiring.SetRevision(kRevision);
  Clock::time_point long_ago = Clock::now() - milliseconds(900);
  for (int i = 0; i < 3; ++i) {
    expiring.Store(AuthAnswers::KeyOf(Query("old-" + std::to_string(i))), Allow(), long_ago);
  }
  expiring.Store(AuthAnswers::KeyOf(Query("live")), Allow(milliseconds(60000)), now_);
  std::this_thread::sleep_for(milliseconds(150));  // the three old ones are now over
  expiring.Store(AuthAnswers::KeyOf(Query("new")), Allow(milliseconds(60000)), Clock::now());
  EXPECT_EQ(expiring.size(), 2u);
  EXPECT_TRUE(expiring.Find(AuthAnswers::KeyOf(Query("live"))).has_value());
  EXPECT_TRUE(expiring.Find(AuthAnswers::KeyOf(Query("new"))).has_value());
}

TEST_F(AuthAnswersTest, ConcurrentUseIsSafe) {
  AuthAnswers shared(64);
  shared.SetRevision(kRevision);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&shared, t] {
      for (int i = 0; i < 2000; ++i) {
        std::string key = AuthAnswers::KeyOf(Query("key-" + std::to_string((i + t) % 100)));
        if (!shared.Find(key).has_value()) shared.Store(key, Allow(), Clock::now());
        if (t == 0 && i % 500 == 250) {
          shared.SetRevision(kRevision + 1);
          shared.SetRevision(kRevision);
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_LE(shared.size(), 64u);
  std::string key = AuthAnswers::KeyOf(Query("after"));
  shared.Store(key, Allow(), Clock::now());
  EXPECT_TRUE(shared.Find(key).has_value());
}

}  // namespace
}  // namespace switchboard::edge
