#include "tools/sb-load/src/proc_stats.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>

namespace switchboard::load {
namespace {

TEST(ProcStatsTest, ParsesStatEvenWithParenthesesInTheName) {
  std::string stat =
      "1234 (sb (edge) x) S 1 1234 1234 0 -1 4194560 2150 0 0 0 250 75 0 0 20 0 9 0 12345 "
      "1000000 5000 18446744073709551615 1 1 0 0 0 0 0 4096 0 0 0 17 1 0 0 0 0 0\n";
  EXPECT_EQ(ParseStatCpuTicks(stat), 325u);
  EXPECT_EQ(ParseStatCpuTicks("garbage"), std::nullopt);
  EXPECT_EQ(ParseStatCpuTicks("1 (x) S 1 2"), std::nullopt);
}

TEST(ProcStatsTest, ParsesVmRss) {
  EXPECT_EQ(
      ParseStatusRssKb("Name:\tsb-edge\nVmPeak:\t  100 kB\nVmRSS:\t   23456 kB\nThreads: 4\n"),
      23456u);
  EXPECT_EQ(ParseStatusRssKb("Name:\tx\n"), std::nullopt);
}

TEST(ProcStatsTest, ReadsThisProcess) {
  // Burn a little CPU so the counters have something to show.
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  volatile uint64_t sink = 0;
  while (std::chrono::steady_clock::now() < until) sink = sink + 1;
  absl::StatusOr<uint64_t> cpu = ProcessCpuMicros(getpid());
  ASSERT_TRUE(cpu.ok()) << cpu.status();
  EXPECT_GT(*cpu, 0u);
  EXPECT_GT(SelfCpuMicros(), 0u);
  absl::StatusOr<uint64_t> rss = ProcessRssKb(getpid());
  ASSERT_TRUE(rss.ok()) << rss.status();
  EXPECT_GT(*rss, 100u);
  EXPECT_NE(ProcessName(getpid()), "?");
  EXPECT_FALSE(ProcessCpuMicros(0x3fffffff).ok());
  EXPECT_EQ(ProcessName(0x3fffffff), "?");
}

}  // namespace
}  // namespace switchboard::load
