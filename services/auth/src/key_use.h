#pragma once

#include <absl/status/status.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::auth {

// Which API keys auth accepted, and when last, reported to the registry in batches every
// `interval` (and once more on Stop), so that `sbctl get apikeys` can show last use without
// auth touching the database on the request path. Thread-safe; Note never blocks on I/O.
class KeyUseReporter {
 public:
  using Send = std::function<absl::Status(const registry::v1::RecordApiKeyUseRequest&)>;

  KeyUseReporter(Send send, std::chrono::milliseconds interval);
  ~KeyUseReporter();  // Stops.

  // Records that key `id` was accepted at `now_unix`.
  void Note(const std::string& id, int64_t now_unix);
  // Sends what was noted since the last report; on failure keeps it for the next one.
  absl::Status Report();
  void Start();
  // Ends the reporting thread after one last report. Idempotent.
  void Stop();

 private:
  // Remembers that `id` was used at `used_unix` unless a later use is already pending.
  void KeepLatestLocked(const std::string& id, int64_t used_unix);

  Send send_;
  std::chrono::milliseconds interval_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, int64_t> pending_;  // guarded by mu_
  bool stopping_ = false;                   // guarded by mu_
  std::thread thread_;
};

}  // namespace switchboard::auth
