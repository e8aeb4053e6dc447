#include "tools/sb-load/src/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace switchboard::load {

int Histogram::IndexOf(uint64_t nanos) {
  nanos = std::min(nanos, kMaxNanos);
  if (nanos < 2 * kSubBuckets) return static_cast<int>(nanos);
  int msb = 63 - std::countl_zero(nanos);
  int shift = msb - kSubBucketBits;
  return static_cast<int>(static_cast<uint64_t>(shift) * kSubBuckets + (nanos >> shift));
}

uint64_t Histogram::LowestOf(int index) {
  auto i = static_cast<uint64_t>(index);
  if (i < 2 * kSubBuckets) return i;
  uint64_t shift = i / kSubBuckets - 1;
  return (i - shift * kSubBuckets) << shift;
}

uint64_t Histogram::WidthOf(int index) {
  auto i = static_cast<uint64_t>(index);
  if (i < 2 * kSubBuckets) return 1;
  return uint64_t{1} << (i / kSubBuckets - 1);
}

void Histogram::Record(uint64_t nanos) {
  nanos = std::min(nanos, kMaxNanos);
  ++counts_[static_cast<size_t>(IndexOf(nanos))];
  ++count_;
  min_ = std::min(min_, nanos);
  max_ = std::max(max_, nanos);
  sum_ += nanos;
}

void Histogram::Add(const Histogram& other) {
  for (size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

uint64_t Histogram::ValueAt(double q) const {
  if (count_ == 0) return 0;
  if (q >= 1) return max_;
  q = std::max(q, 0.0);
  auto rank = static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      int index = static_cast<int>(i);
      uint64_t middle = LowestOf(index) + WidthOf(index) / 2;
      return std::clamp(middle, min_, max_);
    }
  }
  return max_;
}

}  // namespace switchboard::load
