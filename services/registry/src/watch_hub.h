#pragma once

#include <absl/status/status.h>

#include <cstddef>
#include <cstdint>
#include <deque>
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

// Fans configuration changes out to Watch streams. It holds the latest snapshot and the last
// change events; a new subscriber first receives WatchEvent{revision, snapshot} (or, resuming
// from a revision the history still reaches, the change events after it), and every later
// Update sends each subscriber one WatchEvent{revision, changes} with the difference.
// Subscribing and updating are ordered, so a subscriber never misses a change or sees one
// twice. Thread-safe.
class WatchHub {
 public:
  // How many change events (revision steps) the hub keeps for resuming watchers by default.
  static constexpr size_t kDefaultHistory = 1000;

  explicit WatchHub(size_t history_limit = kDefaultHistory) : history_limit_(history_limit) {}
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  // Registers `subscriber` and pushes it where it starts. With `from_revision` > 0 that the
  // history reaches (it is the current revision, or one a kept change event starts from or
  // ends at), that is every kept change event after it, in order, or when the subscriber is
  // already current one event carrying only the current revision; otherwise (0, too old, or
  // newer than the hub's) the current snapshot. Unavailable before the first Update and after
  // CloseAll. `resumed`, when given, tells whether it got changes rather than a snapshot.
  absl::Status Subscribe(const std::shared_ptr<WatchSubscriber>& subscriber,
                         int64_t from_revision = 0, bool* resumed = nullptr);

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
  // The last change events, oldest first, each turning the revision before it (history_base_
  // for the first; -1 when the current content was reached without a revision step) into its
  // own; at most history_limit_ of them.
  const size_t history_limit_;
  std::deque<std::shared_ptr<const v1::WatchEvent>> history_;  // guarded by mu_
  int64_t history_base_ = 0;                                    // guarded by mu_
};

}  // namespace switchboard::registry
