#include "services/auth/src/key_use.h"

#include <algorithm>

#include "switchboard/common/log.h"
#include "switchboard/common/status.h"

namespace switchboard::auth {
namespace {

// Keys remembered between reports at most (a registry down for long cannot grow this forever).
constexpr size_t kMaxPending = 100000;

}  // namespace

KeyUseReporter::KeyUseReporter(Send send, std::chrono::milliseconds interval)
    : send_(std::move(send)), interval_(interval) {}

KeyUseReporter::~KeyUseReporter() { Stop(); }

void KeyUseReporter::Note(const std::string& id, int64_t now_unix) {
  std::lock_guard<std::mutex> lock(mu_);
  KeepLatestLocked(id, now_unix);
}

void KeyUseReporter::KeepLatestLocked(const std::string& id, int64_t used_unix) {
  auto it = pending_.find(id);
  if (it != pending_.end()) {
    it->second = std::max(it->second, used_unix);
  } else if (pending_.size() < kMaxPending) {
    pending_.emplace(id, used_unix);
  }
}

absl::Status KeyUseReporter::Report() {
  std::map<std::string, int64_t> batch;
  {
    std::lock_guard<std::mutex> lock(mu_);
    batch.swap(pending_);
  }
  if (batch.empty()) return absl::OkStatus();
  registry::v1::RecordApiKeyUseRequest request;
  for (const auto& [id, at] : batch) {
    auto* use = request.add_uses();
    use->set_id(id);
    use->set_used_unix(at);
  }
  absl::Status sent = send_(request);
  if (!sent.ok()) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, at] : batch) KeepLatestLocked(id, at);
    log::Warn("cannot report API key use to the registry; kept for the next report",
              {{"keys", static_cast<uint64_t>(batch.size())}, {"error", MessageOf(sent)}});
  }
  return sent;
}

void KeyUseReporter::Start() {
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      cv_.wait_for(lock, interval_, [this] { return stopping_; });
      lock.unlock();
      (void)Report();
      lock.lock();
    }
  });
}

void KeyUseReporter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  (void)Report();  // what was noted since the thread's last report
}

}  // namespace switchboard::auth
