#include "services/auth/src/jwks_cache.h"

#include "switchboard/common/log.h"
#include "switchboard/common/status.h"

namespace switchboard::auth {

namespace {
constexpr size_t kMaxKidAttempts = 1000;  // remembered unknown kids per URL
}  // namespace

JwksCache::JwksCache(JwksFetch fetch, JwksCacheOptions options)
    : fetch_(std::move(fetch)), options_(options) {}

JwksCache::~JwksCache() { Stop(); }

void JwksCache::Start() {
  std::lock_guard lock(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] { Run(); });
}

void JwksCache::Stop() {
  std::vector<std::function<void()>> orphans;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [url, entry] : entries_) {
      for (auto& w : entry.waiters) orphans.push_back(std::move(w));
      entry.waiters.clear();
    }
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& done : orphans) done();
}

void JwksCache::QueueLocked(const std::string& url, Entry& entry) {
  if (entry.queued) return;
  entry.queued = true;
  queue_.push_back(url);
  cv_.notify_one();
}

std::shared_ptr<const JwtKey> JwksCache::Find(const std::string& url, const std::string& kid) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(url);
  if (it == entries_.end()) return nullptr;
  Entry& entry = it->second;
  auto now = Clock::now();
  if (entry.fetched_at && now - *entry.fetched_at > options_.max_age && !stopping_ &&
      now - *entry.last_attempt >= options_.min_fetch_gap) {
    QueueLocked(url, entry);
  }
  auto key = entry.keys.find(kid);
  return key == entry.keys.end() ? nullptr : key->second;
}

bool JwksCache::Refresh(const std::string& url, const std::string& kid,
                        std::function<void()> done) {
  std::lock_guard lock(mu_);
  if (stopping_) return false;
  Entry& entry = entries_[url];
  auto now = Clock::now();
  if (entry.queued) {
    // A fetch is on its way: wait for it rather than asking for another.
    if (entry.waiters.size() >= options_.max_waiters) return false;
    entry.waiters.push_back(std::move(done));
    return true;
  }
  // A fetch sooner than min_fetch_gap after the last one is queued all the same when the gap
  // ends soon: Run holds it back until then, so the token waits a little instead of being
  // refused. A longer wait is refused.
  constexpr auto kMaxGapWait = std::chrono::seconds(2);
  if (entry.last_attempt && *entry.last_attempt + options_.min_fetch_gap - now > kMaxGapWait) {
    return false;
  }
  auto attempt = entry.kid_attempts.find(kid);
  if (attempt != entry.kid_attempts.end() &&
      now - attempt->second < options_.unknown_kid_interval) {
    return false;
  }
  if (entry.kid_attempts.size() >= kMaxKidAttempts) {
    std::erase_if(entry.kid_attempts,
                  [&](const auto& kv) { return now - kv.second >= options_.unknown_kid_interval; });
    if (entry.kid_attempts.size() >= kMaxKidAttempts) return false;
  }
  entry.kid_attempts[kid] = now;
  entry.waiters.push_back(std::move(done));
  QueueLocked(url, entry);
  return true;
}

void JwksCache::Prefetch(const std::string& url) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  Entry& entry = entries_[url];
  if (entry.last_attempt) return;  // fetched (or tried) already
  QueueLocked(url, entry);
}

int64_t JwksCache::fetches() const {
  std::lock_guard lock(mu_);
  return fetches_;
}

void JwksCache::Run() {
  while (true) {
    std::string url;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      url = std::move(queue_.front());
      queue_.pop_front();
      Entry& entry = entries_[url];
      if (entry.last_attempt) {
        // A URL is fetched at most once per min_fetch_gap, whatever asks.
        auto earliest = *entry.last_attempt + options_.min_fetch_gap;
        if (cv_.wait_until(lock, earliest, [this] { return stopping_; })) return;
      }
      entry.last_attempt = Clock::now();
    }
    absl::StatusOr<std::string> body = fetch_(url);
    absl::StatusOr<JwtKeySet> keys =
        body.ok() ? ParseJwks(*body) : absl::StatusOr<JwtKeySet>(body.status());
    if (!keys.ok()) {
      log::Warn("cannot fetch signing keys", {{"url", url}, {"error", MessageOf(keys.status())}});
    } else {
      log::Info("signing keys fetched",
                {{"url", url}, {"keys", static_cast<int64_t>(keys->size())}});
    }
    std::vector<std::function<void()>> waiters;
    {
      std::lock_guard lock(mu_);
      ++fetches_;
      Entry& entry = entries_[url];
      if (keys.ok()) {
        entry.keys = std::move(*keys);
        entry.fetched_at = Clock::now();
      }
      entry.queued = false;
      waiters.swap(entry.waiters);
    }
    for (auto& done : waiters) done();
  }
}

}  // namespace switchboard::auth
