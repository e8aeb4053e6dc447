#include "tools/sb-load/src/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

namespace switchboard::load {
namespace {

// True when `got` is within `fraction` of `want`.
bool Near(uint64_t got, uint64_t want, double fraction) {
  return std::fabs(static_cast<double>(got) - static_cast<double>(want)) <=
         fraction * static_cast<double>(want);
}

TEST(HistogramTest, BucketsCoverTheRangeWithinOnePercent) {
  int previous = -1;
  for (uint64_t v = 1; v <= Histogram::kMaxNanos; v = v + 1 + v / 97) {
    int index = Histogram::IndexOf(v);
    ASSERT_GE(index, previous) << v;
    ASSERT_LT(index, Histogram::kBucketCount) << v;
    uint64_t low = Histogram::LowestOf(index);
    uint64_t width = Histogram::WidthOf(index);
    ASSERT_LE(low, v);
    ASSERT_LT(v, low + width);
    if (v >= 1000) {
      ASSERT_LE(static_cast<double>(width) / static_cast<double>(v), 0.01) << v;
    }
    previous = index;
  }
  EXPECT_EQ(Histogram::IndexOf(Histogram::kMaxNanos * 10),
            Histogram::IndexOf(Histogram::kMaxNanos));
  // Consecutive buckets meet without gaps.
  for (int i = 1; i < Histogram::kBucketCount; ++i) {
    ASSERT_EQ(Histogram::LowestOf(i - 1) + Histogram::WidthOf(i - 1), Histogram::LowestOf(i)) << i;
  }
}

TEST(HistogramTest, EmptyIsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.ValueAt(0.5), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.mean(), 0);
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (uint64_t v : {5, 1, 3, 2, 4}) h.Record(v);
  EXPECT_EQ(h.ValueAt(0.5), 3u);
  EXPECT_EQ(h.ValueAt(0.19), 1u);
  EXPECT_EQ(h.ValueAt(0.21), 2u);
  EXPECT_EQ(h.ValueAt(1.0), 5u);
  EXPECT_EQ(h.min(), 1u);
  EXPECT_DOUBLE_EQ(h.mean(), 3.0);
}

TEST(HistogramTest, PercentilesOfUniformMicroseconds) {
  // 1 µs .. 100 ms in 1 µs steps, shuffled.
  std::vector<uint64_t> values;
  for (uint64_t us = 1; us <= 100000; ++us) values.push_back(us * 1000);
  std::shuffle(values.begin(), values.end(), std::mt19937_64(7));
  Histogram h;
  for (uint64_t v : values) h.Record(v);
  EXPECT_EQ(h.count(), 100000u);
  EXPECT_TRUE(Near(h.ValueAt(0.5), 50000000, 0.005)) << h.ValueAt(0.5);
  EXPECT_TRUE(Near(h.ValueAt(0.9), 90000000, 0.005)) << h.ValueAt(0.9);
  EXPECT_TRUE(Near(h.ValueAt(0.99), 99000000, 0.005)) << h.ValueAt(0.99);
  EXPECT_TRUE(Near(h.ValueAt(0.999), 99900000, 0.005)) << h.ValueAt(0.999);
  EXPECT_EQ(h.max(), 100000000u);
  EXPECT_EQ(h.min(), 1000u);
  EXPECT_NEAR(h.mean(), 50000500.0, 1.0);
}

TEST(HistogramTest, PercentilesOfASkewedDistributionMatchSorting) {
  std::mt19937_64 rng(11);
  std::lognormal_distribution<double> dist(std::log(800000.0), 0.8);  // ~0.8 ms median
  std::vector<uint64_t> values;
  Histogram h;
  for (int i = 0; i < 200000; ++i) {
    auto v = static_cast<uint64_t>(dist(rng));
    values.push_back(v);
    h.Record(v);
  }
  std::sort(values.begin(), values.end());
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    auto rank = static_cast<size_t>(std::ceil(q * static_cast<double>(values.size())));
    uint64_t exact = values[rank - 1];
    EXPECT_TRUE(Near(h.ValueAt(q), exact, 0.01)) << q << ": " << h.ValueAt(q) << " vs " << exact;
  }
  EXPECT_EQ(h.max(), values.back());
}

TEST(HistogramTest, AddMergesCountsAndExtremes) {
  Histogram a;
  Histogram b;
  for (uint64_t v = 1; v <= 1000; ++v) a.Record(v * 1000);
  for (uint64_t v = 1001; v <= 2000; ++v) b.Record(v * 1000);
  a.Add(b);
  EXPECT_EQ(a.count(), 2000u);
  EXPECT_EQ(a.min(), 1000u);
  EXPECT_EQ(a.max(), 2000000u);
  EXPECT_TRUE(Near(a.ValueAt(0.5), 1000000, 0.005)) << a.ValueAt(0.5);
}

TEST(HistogramTest, HugeValuesAreClampedToSixtySeconds) {
  Histogram h;
  h.Record(uint64_t{3600} * 1000 * 1000 * 1000);
  EXPECT_EQ(h.max(), Histogram::kMaxNanos);
  EXPECT_EQ(h.ValueAt(0.5), Histogram::kMaxNanos);
}

}  // namespace
}  // namespace switchboard::load
