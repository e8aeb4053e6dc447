#include "services/registry/src/watch_hub.h"

#include <vector>

#include "services/registry/src/snapshot_diff.h"

namespace switchboard::registry {

absl::Status WatchHub::Subscribe(const std::shared_ptr<WatchSubscriber>& subscriber,
                                int64_t from_revision, bool* resumed) {
  std::lock_guard<std::mutex> order(order_mu_);
  std::vector<std::shared_ptr<const v1::WatchEvent>> first;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return absl::UnavailableError("the registry is shutting down");
    if (snapshot_event_ == nullptr) {
      return absl::UnavailableError("the registry has not loaded the configuration yet");
    }
    // Resumable only from a revision step boundary: a change event that spans the watcher's
    // revision would not undo what happened between its start and that revision.
    bool reached = from_revision > 0 && from_revision == history_base_;
    for (const auto& event : history_) {
      if (reached) first.push_back(event);
      if (from_revision > 0 && event->revision() == from_revision) reached = true;
    }
    if (reached && first.empty()) {
      auto current = std::make_shared<v1::WatchEvent>();
      current->set_revision(snapshot_->revision());
      first.push_back(std::move(current));
    }
    if (!reached) first = {snapshot_event_};
    if (resumed != nullptr) *resumed = reached;
    subscribers_[subscriber.get()] = subscriber;
  }
  for (auto& event : first) {
    if (!subscriber->Push(std::move(event))) {
      Unsubscribe(subscriber.get());
      break;
    }
  }
  return absl::OkStatus();
}

void WatchHub::Unsubscribe(const WatchSubscriber* subscriber) {
  std::shared_ptr<WatchSubscriber> gone;  // released outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  auto it = subscribers_.find(subscriber);
  if (it == subscribers_.end()) return;
  gone = std::move(it->second);
  subscribers_.erase(it);
}

size_t WatchHub::Update(v1::Snapshot snapshot) {
  std::lock_guard<std::mutex> order(order_mu_);
  if (revision() > snapshot.revision()) return 0;  // an older read lost a race: keep the newer
  auto next = std::make_shared<const v1::Snapshot>(std::move(snapshot));
  auto snapshot_event = std::make_shared<v1::WatchEvent>();
  snapshot_event->set_revision(next->revision());
  *snapshot_event->mutable_snapshot() = *next;

  std::shared_ptr<const v1::Snapshot> previous;
  {
    std::lock_guard<std::mutex> lock(mu_);
    previous = std::move(snapshot_);
    snapshot_ = next;
    snapshot_event_ = std::move(snapshot_event);
  }
  if (previous == nullptr) {
    std::lock_guard<std::mutex> lock(mu_);
    history_base_ = next->revision();
    return 0;
  }

  std::vector<v1::Change> changes = DiffSnapshots(*previous, *next);
  if (changes.empty() && previous->revision() == next->revision()) return 0;
  auto event = std::make_shared<v1::WatchEvent>();
  event->set_revision(next->revision());
  for (v1::Change& c : changes) *event->add_changes() = std::move(c);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (previous->revision() == next->revision()) {
      // The same revision read with other content (a hand edit that moved no revision): the
      // steps kept so far no longer lead to it, so resuming must start from a snapshot.
      history_.clear();
      history_base_ = -1;
    } else if (history_limit_ > 0) {
      history_.push_back(event);
      while (history_.size() > history_limit_) {
        history_base_ = history_.front()->revision();
        history_.pop_front();
      }
    } else {
      history_base_ = next->revision();
    }
  }
  Broadcast(event);
  return static_cast<size_t>(event->changes_size());
}

void WatchHub::Broadcast(const std::shared_ptr<const v1::WatchEvent>& event) {
  std::vector<std::shared_ptr<WatchSubscriber>> targets;
  {
    std::lock_guard<std::mutex> lock(mu_);
    targets.reserve(subscribers_.size());
    for (const auto& [ptr, sub] : subscribers_) targets.push_back(sub);
  }
  for (const auto& sub : targets) {
    if (!sub->Push(event)) Unsubscribe(sub.get());
  }
}

void WatchHub::CloseAll() {
  Subscribers closing;
  {
    std::lock_guard<std::mutex> order(order_mu_);
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    closing.swap(subscribers_);
  }
  for (const auto& [ptr, sub] : closing) sub->Close();
}

std::shared_ptr<const v1::Snapshot> WatchHub::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_;
}

int64_t WatchHub::revision() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snapshot_ == nullptr ? 0 : snapshot_->revision();
}

size_t WatchHub::subscriber_count() const {
  std::lock_guard<std::mutex> lock(mu_);
  return subscribers_.size();
}

}  // namespace switchboard::registry
