#pragma once

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <thread>
#include <vector>

namespace switchboard::edge {

// N io_contexts, each run by one thread, so that everything of one connection happens on one
// thread without locks. Next() spreads new connections round-robin.
class IoContextPool {
 public:
  // `threads` 0 means one per core.
  explicit IoContextPool(size_t threads);
  ~IoContextPool();
  IoContextPool(const IoContextPool&) = delete;
  IoContextPool& operator=(const IoContextPool&) = delete;

  // Starts the threads; each context runs until Stop.
  void Start();
  // Stops every context and joins the threads. Idempotent.
  void Stop();

  size_t size() const { return contexts_.size(); }
  boost::asio::io_context& At(size_t i) { return *contexts_[i]; }
  // The next context in round-robin order (call from one thread: the acceptor's).
  boost::asio::io_context& Next();

 private:
  using Guard = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<Guard> guards_;
  std::vector<std::thread> threads_;
  size_t next_ = 0;
};

}  // namespace switchboard::edge
