#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "services/edge/src/stream_router_client.h"

namespace switchboard::edge {

// StreamRouterClient over wire connections (wire::kRouterExchange): one connection to the
// router per io thread of the edge, read and written by that thread, so a call made on an io
// thread crosses no other thread in the edge. A call made elsewhere uses the connections in
// turn. Requests written while a connection is being made wait for it; if it cannot be made,
// their calls end with UnavailableError.
class WireRouterClient : public StreamRouterClient {
 public:
  explicit WireRouterClient(std::string address, size_t max_frames_per_call = 1024,
                            std::chrono::milliseconds connect_timeout = std::chrono::seconds(2));
  // Calls Shutdown if it was not; must outlive every RouterCall it returned.
  ~WireRouterClient() override;

  // The io threads' executors, one connection each. Call once, before traffic.
  void Bind(const std::vector<boost::asio::io_context::executor_type>& executors);

  // False for a second after a connection to the router failed; for choosing among replicas.
  bool Available() const;

  // Closes every connection and waits (up to `timeout`) until they have ended; their calls end
  // with UnavailableError. Call while the io threads still run. Later calls fail at once.
  void Shutdown(std::chrono::milliseconds timeout = std::chrono::seconds(2));

 private:
  class WireStream;
  struct Slot {
    explicit Slot(boost::asio::io_context::executor_type e) : executor(std::move(e)) {}
    boost::asio::io_context::executor_type executor;
    // Its own lock, so that each io thread's calls take an uncontended one.
    std::mutex mu;
    std::shared_ptr<WireStream> stream;  // guarded by mu
  };

  std::shared_ptr<Stream> CurrentStream() override;
  void OnStreamEnded(bool failed);

  const std::string address_;
  const std::chrono::milliseconds connect_timeout_;
  std::vector<std::unique_ptr<Slot>> slots_;  // set by Bind, then only read
  std::atomic<size_t> next_slot_{0};
  std::atomic<int64_t> unavailable_until_ms_{0};

  std::atomic<bool> shutting_down_{false};
  std::mutex mu_;
  std::condition_variable ended_cv_;
  int live_streams_ = 0;  // guarded by mu_
};

}  // namespace switchboard::edge
