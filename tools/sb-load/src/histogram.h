#pragma once

#include <array>
#include <cstdint>

namespace switchboard::load {

// A log-linear latency histogram in the style of HdrHistogram: values in nanoseconds, exact
// below 256 ns, then 128 linear sub-buckets per power of two, so any recorded value is known to
// within 0.8% (well inside 1%) from 1 µs up to kMaxNanos (60 s). Larger values are clamped to
// kMaxNanos; the exact minimum, maximum and sum are kept beside the buckets. Not thread-safe:
// give each thread its own and Add() them.
class Histogram {
 public:
  static constexpr int kSubBucketBits = 7;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;  // 128
  static constexpr uint64_t kMaxNanos = uint64_t{60} * 1000 * 1000 * 1000;

  // Records one value (nanoseconds).
  void Record(uint64_t nanos);
  // Adds every value recorded in `other`.
  void Add(const Histogram& other);

  uint64_t count() const { return count_; }
  // Exact smallest, largest (after clamping to kMaxNanos) and mean of the recorded values; 0
  // when empty.
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double mean() const { return count_ == 0 ? 0 : static_cast<double>(sum_) / count_; }

  // The value at quantile `q` (0..1): the smallest recorded value v such that at least q of the
  // values are <= v, reported as the middle of v's bucket (so within 0.4% of it) and clamped to
  // [min, max]. 0 when empty. ValueAt(1) == max().
  uint64_t ValueAt(double q) const;

  // The bucket a value falls in, and the lowest value and width of a bucket (for tests).
  static int IndexOf(uint64_t nanos);
  static uint64_t LowestOf(int index);
  static uint64_t WidthOf(int index);

  static constexpr int kBucketCount =
      static_cast<int>((35 - kSubBucketBits + 1) * kSubBuckets + kSubBuckets);  // up to 2^36 ns

 private:
  std::array<uint64_t, kBucketCount> counts_{};
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  uint64_t sum_ = 0;
};

}  // namespace switchboard::load
