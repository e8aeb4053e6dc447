#include "services/edge/src/io_pool.h"

#include <algorithm>
#include <exception>

#include "switchboard/common/log.h"

namespace switchboard::edge {

IoContextPool::IoContextPool(size_t threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  for (size_t i = 0; i < threads; ++i) {
    contexts_.push_back(std::make_unique<boost::asio::io_context>(1));
    guards_.emplace_back(contexts_.back()->get_executor());
  }
}

IoContextPool::~IoContextPool() { Stop(); }

void IoContextPool::Start() {
  for (auto& context : contexts_) {
    threads_.emplace_back([ctx = context.get()] {
      while (true) {
        try {
          ctx->run();
          return;
        } catch (const std::exception& e) {
          log::Error("unhandled exception on an io thread", {{"error", e.what()}});
        }
      }
    });
  }
}

void IoContextPool::Stop() {
  guards_.clear();
  for (auto& context : contexts_) context->stop();
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

boost::asio::io_context& IoContextPool::Next() {
  boost::asio::io_context& ctx = *contexts_[next_];
  next_ = (next_ + 1) % contexts_.size();
  return ctx;
}

}  // namespace switchboard::edge
