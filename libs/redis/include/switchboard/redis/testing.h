#pragma once

// Test support: the private Redis that ctest's `backing` fixture starts for the suites labelled
// db, redis and integration (it sets SB_TEST_REDIS_URL), and a client with a thread of its own
// for tests that wait for each reply.

#include <absl/status/statusor.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "switchboard/redis/client.h"
#include "switchboard/redis/endpoint.h"

namespace switchboard::redis::testing {

// The test Redis, in database `db` (a test that must not meet other tests' keys picks its own).
// FailedPrecondition when SB_TEST_REDIS_URL is unset: these tests run through ctest, and never
// skip silently.
inline absl::StatusOr<RedisEndpoint> TestRedisEndpoint(int db = 0) {
  const char* url = std::getenv("SB_TEST_REDIS_URL");
  if (url == nullptr || *url == '\0') {
    return absl::FailedPreconditionError(
        "SB_TEST_REDIS_URL is not set: run this test through ctest -L redis (or db), whose "
        "`backing` fixture starts a private Redis");
  }
  absl::StatusOr<RedisEndpoint> endpoint = ParseRedisUrl(url);
  if (endpoint.ok()) endpoint->db = db;
  return endpoint;
}

// A RedisClient driven by an io thread of its own. Destroying it closes the client (failing
// what is outstanding) and joins the thread.
class ThreadedClient {
 public:
  explicit ThreadedClient(const RedisEndpoint& endpoint)
      : client_(RedisClient::Create(io_.get_executor(), endpoint)),
        thread_([this] { io_.run(); }) {}
  ~ThreadedClient() {
    client_->Close();
    work_.reset();
    thread_.join();
  }
  ThreadedClient(const ThreadedClient&) = delete;
  ThreadedClient& operator=(const ThreadedClient&) = delete;

  const std::shared_ptr<RedisClient>& client() const { return client_; }
  // The io thread's executor (for other clients the test wants on the same thread).
  boost::asio::any_io_executor executor() { return io_.get_executor(); }

  // Sends one command and waits for its reply; a transport error throws.
  Reply Command(std::vector<std::string> args) {
    return client_->AsyncCommand(std::move(args), boost::asio::use_future).get();
  }

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_ =
      boost::asio::make_work_guard(io_);
  std::shared_ptr<RedisClient> client_;
  std::thread thread_;
};

}  // namespace switchboard::redis::testing
