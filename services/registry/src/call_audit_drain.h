#pragma once

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "services/registry/src/registry_service.h"
#include "switchboard/redis/client.h"

namespace switchboard::registry {

// The Redis stream the edges append one entry per tools/call to (fields: at_ms, user,
// endpoint, tool, outcome, duration_ms), and the consumer group that drains it.
inline constexpr char kToolCallStream[] = "sb:audit:calls";
inline constexpr char kToolCallGroup[] = "registry";

// Parses one XREADGROUP reply into (entry id, call) pairs; entries without their fields are
// skipped (their ids still returned in `ids`, so they are acknowledged and not read forever).
std::vector<std::pair<std::string, v1::ToolCall>> ParseToolCallEntries(
    const redis::Reply& reply, std::vector<std::string>* ids);

// Moves tools/call records from kToolCallStream into Postgres (through the RegistryService's
// pool) on its own thread: entries are acknowledged and deleted from the stream only once
// stored, and pending ones are read again first, so a crash loses none and, stored by entry id,
// none is stored twice. Every registry replica may run one: they share the consumer group.
class CallAuditDrain {
 public:
  // `redis` should be a connection of its own: reads block on it for up to a second.
  CallAuditDrain(std::shared_ptr<redis::RedisClient> redis, RegistryService* service)
      : redis_(std::move(redis)), service_(service) {}
  ~CallAuditDrain() { Stop(); }

  void Start();
  // Returns within about two seconds.
  void Stop();

 private:
  void Run();
  // One read-store-acknowledge round; false when it failed (then the caller waits a little).
  bool Round();
  void Pause(std::chrono::milliseconds how_long);

  std::shared_ptr<redis::RedisClient> redis_;
  RegistryService* service_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool down_ = false;  // the last round failed (logged once until one succeeds)
  bool group_ready_ = false;  // the consumer group exists (created once, again after a failure)
};

}  // namespace switchboard::registry
