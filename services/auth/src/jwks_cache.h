#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "services/auth/src/jwt.h"

namespace switchboard::auth {

// Reads a JWK Set document from a URL (HttpGet in production).
using JwksFetch = std::function<absl::StatusOr<std::string>(const std::string& url)>;

struct JwksCacheOptions {
  // A kid the held set lacks sends its URL to be fetched again at most once per interval (per
  // URL and kid); and a URL is fetched at most once per min_fetch_gap, whatever the kid, so that
  // tokens with made-up kids cannot make auth hammer an authorization server.
  std::chrono::milliseconds unknown_kid_interval{60000};
  std::chrono::milliseconds min_fetch_gap{1000};
  // A set older than this is fetched again in the background when it is next used (keys that
  // the authorization server withdrew stop being accepted).
  std::chrono::milliseconds max_age{3600 * 1000};
  // Requests that may wait for one URL's fetch at once; later ones are not made to wait.
  size_t max_waiters = 10000;
};

// The signing keys of each JWKS URL that OAuth endpoints name, fetched on a thread of its own:
// lookups never block and never fetch; Refresh queues a fetch and calls back when it ends. A set
// that fails to fetch keeps its previous keys. Thread-safe.
class JwksCache {
 public:
  using Clock = std::chrono::steady_clock;

  JwksCache(JwksFetch fetch, JwksCacheOptions options = {});
  ~JwksCache();  // Stop()
  JwksCache(const JwksCache&) = delete;
  JwksCache& operator=(const JwksCache&) = delete;

  // Starts the fetching thread.
  void Start();
  // Ends it; callbacks still waiting run (their requests then find what the cache holds).
  void Stop();

  // The key `kid` of the set at `url`, or nullptr when the cache does not hold it. A stale set
  // (older than max_age) is queued for a background fetch.
  std::shared_ptr<const JwtKey> Find(const std::string& url, const std::string& kid);

  // Asks for the set at `url` to be fetched because it lacks `kid`. True when a fetch was queued
  // (or one already was): `done` then runs on the cache's thread once it ends. False when the
  // rate limits refuse (see JwksCacheOptions) or the cache is stopped; `done` is not called.
  bool Refresh(const std::string& url, const std::string& kid, std::function<void()> done);

  // Queues a fetch of `url` when the cache holds no set for it yet (a newly configured endpoint).
  void Prefetch(const std::string& url);

  // How many fetches were made (successful or not): for tests and metrics.
  int64_t fetches() const;

 private:
  struct Entry {
    JwtKeySet keys;
    std::optional<Clock::time_point> fetched_at;    // of the last fetch that succeeded
    std::optional<Clock::time_point> last_attempt;  // of the last fetch, whatever its result
    bool queued = false;
    std::vector<std::function<void()>> waiters;
    std::map<std::string, Clock::time_point, std::less<>> kid_attempts;
  };

  void Run();
  void QueueLocked(const std::string& url, Entry& entry);

  JwksFetch fetch_;
  JwksCacheOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, Entry, std::less<>> entries_;
  std::deque<std::string> queue_;
  bool stopping_ = false;
  bool started_ = false;
  int64_t fetches_ = 0;
  std::thread thread_;
};

}  // namespace switchboard::auth
