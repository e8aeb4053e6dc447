#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace switchboard::runner {

// A token bucket: allows `burst` events at once and `per_second` on average after that, and
// counts the events it refused so the caller can say how many it dropped. Not thread-safe.
class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  RateLimiter(double per_second, double burst)
      : per_second_(per_second), burst_(burst), tokens_(burst) {}

  // True when one more event may pass at `now`.
  bool Allow(Clock::time_point now) {
    if (last_ != Clock::time_point{}) {
      double elapsed = std::chrono::duration<double>(now - last_).count();
      tokens_ = std::min(burst_, tokens_ + elapsed * per_second_);
    }
    last_ = now;
    if (tokens_ >= 1.0) {
      tokens_ -= 1.0;
      return true;
    }
    ++suppressed_;
    return false;
  }

  // The number of refused events since the last call.
  uint64_t TakeSuppressed() {
    uint64_t n = suppressed_;
    suppressed_ = 0;
    return n;
  }

 private:
  double per_second_;
  double burst_;
  double tokens_;
  Clock::time_point last_{};
  uint64_t suppressed_ = 0;
};

}  // namespace switchboard::runner
