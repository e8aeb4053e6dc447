#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <utility>

namespace switchboard::grpcutil {

// Serialises writes on a gRPC callback stream, which allows one outstanding write at a time.
// Push may be called from any thread; the queue starts the next write from OnWriteDone. After
// Close, pushes are dropped and `on_drained` runs once no write is in flight (the place to call
// Finish or RemoveHold). The queue is bounded: a push beyond `max_pending` closes it, so a slow
// peer cannot grow memory without end.
template <typename Msg>
class WriteQueue {
 public:
  using StartWrite = std::function<void(const Msg*)>;
  using OnDrained = std::function<void()>;

  WriteQueue(StartWrite start_write, OnDrained on_drained, size_t max_pending = 65536)
      : start_write_(std::move(start_write)),
        on_drained_(std::move(on_drained)),
        max_pending_(max_pending) {}

  // Queues a message; false when the queue is closed (or just closed for being full).
  bool Push(Msg msg) {
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) return false;
    if (queue_.size() >= max_pending_) {
      CloseLocked(lock);
      return false;
    }
    queue_.push_back(std::move(msg));
    if (!writing_) {
      writing_ = true;
      start_write_(&queue_.front());
    }
    return true;
  }

  // Call from the reactor's OnWriteDone.
  void OnWriteDone(bool ok) {
    std::unique_lock<std::mutex> lock(mu_);
    queue_.pop_front();
    if (!ok) closed_ = true;
    if (closed_) {
      queue_.clear();
      writing_ = false;
      FireDrainedLocked(lock);
      return;
    }
    if (queue_.empty()) {
      writing_ = false;
    } else {
      start_write_(&queue_.front());
    }
  }

  // Stops accepting writes; `on_drained` runs once the write in flight (if any) completes.
  void Close() {
    std::unique_lock<std::mutex> lock(mu_);
    CloseLocked(lock);
  }

  bool closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

 private:
  void CloseLocked(std::unique_lock<std::mutex>& lock) {
    if (closed_) return;
    closed_ = true;
    if (writing_) {
      // Keep the message in flight alive; drop the rest.
      while (queue_.size() > 1) queue_.pop_back();
      return;
    }
    queue_.clear();
    FireDrainedLocked(lock);
  }

  void FireDrainedLocked(std::unique_lock<std::mutex>& lock) {
    if (drained_fired_) return;
    drained_fired_ = true;
    OnDrained cb = std::move(on_drained_);
    lock.unlock();
    if (cb) cb();
    lock.lock();
  }

  StartWrite start_write_;
  OnDrained on_drained_;
  size_t max_pending_;
  mutable std::mutex mu_;
  std::deque<Msg> queue_;
  bool writing_ = false;
  bool closed_ = false;
  bool drained_fired_ = false;
};

}  // namespace switchboard::grpcutil
