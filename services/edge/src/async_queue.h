#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/append.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/post.hpp>
#include <boost/system/error_code.hpp>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

namespace switchboard::edge {

// Hands values from any thread (a gRPC reaction, say) to one consumer waiting in Asio. Pop
// completes on the waiter's associated executor with (error_code, T): a value, eof once the
// queue is closed and drained, or operation_aborted when the waiter is cancelled through its
// cancellation slot (values stay queued). One waiter at a time, whose executor runs one handler
// at a time (a single-threaded io_context or a strand). Bounded: Push refuses beyond `capacity`.
template <typename T>
class AsyncQueue : public std::enable_shared_from_this<AsyncQueue<T>> {
 public:
  using Signature = void(boost::system::error_code, T);

  explicit AsyncQueue(size_t capacity) : capacity_(capacity) {}

  // Queues a value; false when the queue is closed or full. Thread-safe.
  bool Push(T value) {
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_ || items_.size() >= capacity_) return false;
    items_.push_back(std::move(value));
    ScheduleDeliveryLocked(lock);
    return true;
  }

  // Queues `last` beyond the capacity and closes the queue: the consumer gets what was queued,
  // then `last`, then eof. False when already closed. Thread-safe.
  bool Finish(T last) {
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) return false;
    items_.push_back(std::move(last));
    closed_ = true;
    ScheduleDeliveryLocked(lock);
    return true;
  }

  // Closes the queue; the consumer drains what was queued, then gets eof. Thread-safe.
  void Close() {
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    ScheduleDeliveryLocked(lock);
  }

  bool closed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

  size_t size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return items_.size();
  }

  // Waits for the next value.
  template <typename Token>
  auto AsyncPop(Token&& token) {
    return boost::asio::async_initiate<Token, Signature>(
        [self = this->shared_from_this()](auto handler) {
          boost::asio::any_io_executor ex = boost::asio::get_associated_executor(handler);
          self->StartPop(boost::asio::any_completion_handler<Signature>(std::move(handler)),
                         std::move(ex));
        },
        token);
  }

 private:
  using Handler = boost::asio::any_completion_handler<Signature>;

  // The value is taken from the queue only when the completion runs (in Deliver), so a waiter
  // cancelled before then leaves it queued: a value is never lost to a cancelled waiter.
  void StartPop(Handler handler, boost::asio::any_io_executor ex) {
    // The erased handler's own slot: the type-erased wrapper chains it to the caller's slot,
    // and our cancel handler must go behind that chain, not replace it.
    boost::asio::cancellation_slot slot = boost::asio::get_associated_cancellation_slot(handler);
    std::unique_lock<std::mutex> lock(mu_);
    uint64_t seq = ++waiter_seq_;
    waiter_.emplace(std::move(handler));
    waiter_executor_.emplace(ex);
    waiter_slot_ = slot;
    if (slot.is_connected()) {
      std::weak_ptr<AsyncQueue> weak = this->weak_from_this();
      slot.assign([weak, seq](boost::asio::cancellation_type) {
        if (auto self = weak.lock()) self->CancelWaiter(seq);
      });
    }
    if (!items_.empty() || closed_) ScheduleDeliveryLocked(lock);
  }

  // Runs inside the slot's handler, which must not clear its own slot; the stale handler that
  // stays behind is harmless because `seq` no longer matches.
  void CancelWaiter(uint64_t seq) {
    std::unique_lock<std::mutex> lock(mu_);
    if (!waiter_ || seq != waiter_seq_) return;
    Handler handler = std::move(*waiter_);
    waiter_.reset();
    waiter_slot_ = boost::asio::cancellation_slot();
    ++waiter_seq_;
    boost::asio::any_io_executor ex = std::move(*waiter_executor_);
    waiter_executor_.reset();
    lock.unlock();
    boost::asio::post(
        ex, boost::asio::append(std::move(handler), boost::asio::error::operation_aborted, T{}));
  }

  void ScheduleDeliveryLocked(std::unique_lock<std::mutex>& lock) {
    if (!waiter_ || delivery_scheduled_) return;
    delivery_scheduled_ = true;
    boost::asio::any_io_executor ex = *waiter_executor_;
    lock.unlock();
    boost::asio::post(ex, [self = this->shared_from_this()] { self->Deliver(); });
  }

  // Runs on the waiter's executor, so touching its cancellation slot is safe here.
  void Deliver() {
    std::unique_lock<std::mutex> lock(mu_);
    delivery_scheduled_ = false;
    if (!waiter_ || (items_.empty() && !closed_)) return;
    Handler handler = std::move(*waiter_);
    waiter_.reset();
    waiter_executor_.reset();
    boost::asio::cancellation_slot slot = waiter_slot_;
    waiter_slot_ = boost::asio::cancellation_slot();
    ++waiter_seq_;
    boost::system::error_code ec;
    T value{};
    if (!items_.empty()) {
      value = std::move(items_.front());
      items_.pop_front();
    } else {
      ec = boost::asio::error::eof;
    }
    lock.unlock();
    if (slot.is_connected()) slot.clear();
    std::move(handler)(ec, std::move(value));
  }

  const size_t capacity_;
  mutable std::mutex mu_;
  std::deque<T> items_;
  bool closed_ = false;
  bool delivery_scheduled_ = false;
  std::optional<Handler> waiter_;
  std::optional<boost::asio::any_io_executor> waiter_executor_;
  boost::asio::cancellation_slot waiter_slot_;
  uint64_t waiter_seq_ = 0;
};

}  // namespace switchboard::edge
