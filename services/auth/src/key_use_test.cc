#include "services/auth/src/key_use.h"

#include <gtest/gtest.h>

namespace switchboard::auth {
namespace {

using registry::v1::RecordApiKeyUseRequest;

TEST(KeyUseReporterTest, ReportsTheLatestUseOfEachKeyOnce) {
  std::vector<RecordApiKeyUseRequest> sent;
  KeyUseReporter reporter(
      [&](const RecordApiKeyUseRequest& r) {
        sent.push_back(r);
        return absl::OkStatus();
      },
      std::chrono::hours(1));
  reporter.Note("a", 100);
  reporter.Note("b", 150);
  reporter.Note("a", 120);
  reporter.Note("a", 110);  // an older use does not win
  ASSERT_TRUE(reporter.Report().ok());
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_EQ(sent[0].uses_size(), 2);
  EXPECT_EQ(sent[0].uses(0).id(), "a");
  EXPECT_EQ(sent[0].uses(0).used_unix(), 120);
  EXPECT_EQ(sent[0].uses(1).id(), "b");
  // Nothing new: nothing sent.
  ASSERT_TRUE(reporter.Report().ok());
  EXPECT_EQ(sent.size(), 1u);
}

TEST(KeyUseReporterTest, AFailedReportIsKeptForTheNextOne) {
  int calls = 0;
  std::vector<RecordApiKeyUseRequest> sent;
  KeyUseReporter reporter(
      [&](const RecordApiKeyUseRequest& r) {
        if (++calls == 1) return absl::UnavailableError("registry down");
        sent.push_back(r);
        return absl::OkStatus();
      },
      std::chrono::hours(1));
  reporter.Note("a", 100);
  EXPECT_FALSE(reporter.Report().ok());
  reporter.Note("a", 90);
  ASSERT_TRUE(reporter.Report().ok());
  ASSERT_EQ(sent.size(), 1u);
  ASSERT_EQ(sent[0].uses_size(), 1);
  EXPECT_EQ(sent[0].uses(0).used_unix(), 100);
}

TEST(KeyUseReporterTest, StopSendsWhatIsLeft) {
  std::vector<RecordApiKeyUseRequest> sent;
  std::mutex mu;
  KeyUseReporter reporter(
      [&](const RecordApiKeyUseRequest& r) {
        std::lock_guard<std::mutex> lock(mu);
        sent.push_back(r);
        return absl::OkStatus();
      },
      std::chrono::hours(1));
  reporter.Start();
  reporter.Note("a", 100);
  reporter.Stop();
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_EQ(sent[0].uses(0).id(), "a");
}

}  // namespace
}  // namespace switchboard::auth
