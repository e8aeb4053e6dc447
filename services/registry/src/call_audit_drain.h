#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
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
//
// A round that finds less than a full batch is followed by a pause of `interval`, so that
// entries are stored in batches (one read, one transaction, one acknowledgement for many calls)
// instead of one round per tools/call: under load the drain's cost per call shrinks toward
// nothing, and an entry reaches Postgres within about `interval`.
class CallAuditDrain {
 public:
  // `redis` should be a connection of its own: reads block on it for up to a second.
  CallAuditDrain(std::shared_ptr<redis::RedisClient> redis, RegistryService* service,
                 std::chrono::milliseconds interval)
      : redis_(std::move(redis)), service_(service), interval_(interval) {}
  ~CallAuditDrain() { Stop(); }

  void Start();
  // Returns within about two seconds.
  void Stop();

  // How many batches have been stored so far.
  uint64_t batches_stored() const { return batches_stored_.load(std::memory_order_relaxed); }

 private:
  void Run();
  enum class Outcome {
    kFailed,    // logged (once until a round succeeds); the caller waits a little
    kCaughtUp,  // read less than a full batch: the caller pauses `interval_`
    kMore,      // read a full batch: more are likely waiting
  };
  // One read-store-acknowledge round.
  Outcome Round();
  Outcome Failed(std::string_view what, std::string_view error);
  void Pause(std::chrono::milliseconds how_long);

  std::shared_ptr<redis::RedisClient> redis_;
  RegistryService* service_;
  std::chrono::milliseconds interval_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;
  bool down_ = false;  // the last round failed (logged once until one succeeds)
  // At start-up and after a failed round: make sure of the consumer group and read the
  // pending (read but unacknowledged) entries first, until none is left.
  bool recovering_ = true;
  std::atomic<uint64_t> batches_stored_{0};
};

}  // namespace switchboard::registry
