#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "services/auth/src/rate_limits.h"
#include "switchboard/redis/client.h"

namespace switchboard::auth {

// What to do with a request when Redis cannot be asked about its limits.
enum class RedisDownPolicy {
  kFailOpen,    // let it through unlimited
  kFailClosed,  // refuse it as unavailable
};

// Parses "fail-open" | "fail-closed".
absl::StatusOr<RedisDownPolicy> ParseRedisDownPolicy(std::string_view name);
absl::Status CheckRedisDownPolicy(std::string_view name);

// The answer for one request's limits.
struct LimitDecision {
  bool allowed = true;
  int retry_after_seconds = 0;  // when refused: at least 1
  std::string scope;            // when refused: the Limit::scope that refused
  bool unchecked = false;       // let through by the fail-open policy, Redis unreachable
};

// Counts requests against limits in Redis with one GCRA script (kScript): every limit of a
// request is checked and, only if all allow it, charged, atomically and in one round trip
// (EVALSHA, or EVAL after Redis answers NOSCRIPT). Shared by every auth replica through Redis,
// whose clock alone is used. Thread-safe.
class RateLimiter {
 public:
  using Done = std::function<void(absl::StatusOr<LimitDecision>)>;

  RateLimiter(std::shared_ptr<redis::RedisClient> redis, RedisDownPolicy policy);

  // Decides `limits` (none: allowed at once, without Redis) and calls `done` exactly once, on
  // the Redis client's executor, or inline. When Redis is unreachable or answers an error the
  // policy decides: an allowed decision marked `unchecked`, or an Unavailable status.
  void Check(std::vector<Limit> limits, Done done);

  // How many checks found Redis unreachable or failing, since start.
  uint64_t redis_failures() const { return failures_.load(); }

  // The Lua script: KEYS are buckets, ARGV their requests per minute; returns
  // {1, 0, 0} when allowed, {0, retry_after_ms, index of the refusing key (1-based)} when not.
  static const std::string& Script();

 private:
  void Finish(const std::vector<Limit>& limits, const redis::Reply& reply, const Done& done);
  void Failed(std::string_view error, const Done& done);

  std::shared_ptr<redis::RedisClient> redis_;
  RedisDownPolicy policy_;
  std::string sha_;
  std::atomic<uint64_t> failures_{0};
  std::atomic<bool> down_{false};
};

}  // namespace switchboard::auth
