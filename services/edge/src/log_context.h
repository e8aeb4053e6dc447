#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/execution.hpp>
#include <boost/asio/prefer.hpp>
#include <boost/asio/query.hpp>
#include <boost/asio/require.hpp>
#include <memory>
#include <type_traits>
#include <utility>

#include "switchboard/common/log.h"

namespace switchboard::edge {

// An executor that makes one request's log context (trace_id, span_id, endpoint, user) current
// on the thread while any of its work runs. A thread-local context alone cannot follow a
// coroutine: other requests run on the same io thread between its suspensions. Spawned on this
// executor, every resumption of the request's coroutines (and of anything they spawn with
// their executor) writes lines that carry the request's fields; the context lives as long as
// the last piece of work that holds it.
class LogContextExecutor {
 public:
  LogContextExecutor(boost::asio::any_io_executor inner, std::shared_ptr<log::Context> context)
      : inner_(std::move(inner)), context_(std::move(context)) {}

  const std::shared_ptr<log::Context>& context() const noexcept { return context_; }

  template <typename Function>
  void execute(Function&& f) const {
    inner_.execute([context = context_, f = std::forward<Function>(f)]() mutable {
      log::ScopedContext scoped(context.get());
      std::move(f)();
    });
  }

  // Properties are the inner executor's; a required or preferred variant keeps the context.
  template <typename Property>
  auto query(const Property& p) const
      -> decltype(boost::asio::query(std::declval<const boost::asio::any_io_executor&>(), p)) {
    return boost::asio::query(inner_, p);
  }
  template <typename Property>
  std::enable_if_t<boost::asio::can_require<const boost::asio::any_io_executor&, Property>::value,
                   LogContextExecutor>
  require(const Property& p) const {
    return LogContextExecutor(boost::asio::require(inner_, p), context_);
  }
  template <typename Property>
  std::enable_if_t<boost::asio::can_prefer<const boost::asio::any_io_executor&, Property>::value,
                   LogContextExecutor>
  prefer(const Property& p) const {
    return LogContextExecutor(boost::asio::prefer(inner_, p), context_);
  }

  friend bool operator==(const LogContextExecutor& a, const LogContextExecutor& b) noexcept {
    return a.inner_ == b.inner_ && a.context_ == b.context_;
  }
  friend bool operator!=(const LogContextExecutor& a, const LogContextExecutor& b) noexcept {
    return !(a == b);
  }

 private:
  boost::asio::any_io_executor inner_;
  std::shared_ptr<log::Context> context_;
};

}  // namespace switchboard::edge
