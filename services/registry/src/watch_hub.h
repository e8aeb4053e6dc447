#pragma once

#include <absl/status/status.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::registry {

// One Watch stream as the hub sees it. Implementations must not block: they queue the event
// and return.
class WatchSubscriber {
 public:
  virtual ~WatchSubscriber() = default;
  // Queues an event for the peer; false when the stream is closed or cannot keep up, after
  // which the hub forgets the subscriber (the stream ends; its client reconnects and gets a
  // fresh snapshot).
  virtual bool Push(std::shared_ptr<const v1::WatchEvent> event) = 0;
  // Ends the stream: the registry is shutting down.
  virtual void Close() = 0;
};

// Fans configuration changes out to Watch streams. It holds the latest snapshot; a new
// subscriber first receives WatchEvent{revision, snapshot}, and every later Update sends each
// subscriber one WatchEvent{revision, changes} with the difference. Subscribing and updating
// are ordered, so a subscriber never misses a change or sees one twice. Thread-safe.
class WatchHub {
 public:
  WatchHub() = default;
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Registers `subscriber` and pushes it the current snapshot. Unavailable before the first
  // Update and after CloseAll.
  absl::Status Subscribe(const std::shared_ptr<WatchSubscriber>& subscriber);

  // Forgets a subscriber (its stream ended). Unknown subscribers are ignored.
  void Unsubscribe(const WatchSubscriber* subscriber);

  // Makes `snapshot` current. Unless it is the first, its difference from the previous one is
  // pushed to every subscriber as one event (nothing is sent when neither the revision nor
  // the content changed). A snapshot older than the current one is ignored, so several
  // threads may publish what they read. Returns the number of changes sent.
  size_t Update(v1::Snapshot snapshot);

  // Closes every subscriber and refuses new ones.
  void CloseAll();

  // The current snapshot, or nullptr before the first Update.
  std::shared_ptr<const v1::Snapshot> snapshot() const;
  // The current revision (0 before the first Update).
  int64_t revision() const;
  size_t subscriber_count() const;

 private:
  using Subscribers = std::map<const WatchSubscriber*, std::shared_ptr<WatchSubscriber>>;

  // Pushes `event` to every subscriber, dropping those that refuse it. Holds order_mu_.
  void Broadcast(const std::shared_ptr<const v1::WatchEvent>& event);

  // Held across a whole Subscribe or Update so events reach each subscriber in order. Pushes
  // happen under it, but never under mu_, so a stream ending meanwhile can Unsubscribe.
  std::mutex order_mu_;
  mutable std::mutex mu_;
  Subscribers subscribers_;                               // guarded by mu_
  std::shared_ptr<const v1::Snapshot> snapshot_;          // guarded by mu_
  std::shared_ptr<const v1::WatchEvent> snapshot_event_;  // guarded by mu_
  bool closed_ = false;                                   // guarded by mu_
};

}  // namespace switchboard::registry
