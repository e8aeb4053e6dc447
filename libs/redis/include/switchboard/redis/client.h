#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "switchboard/redis/endpoint.h"
#include "switchboard/redis/resp.h"

namespace switchboard::redis {

// Transport failures reported by RedisClient. A Redis error reply is not one of these: it
// arrives as a Reply of type kError with a success error_code.
enum class Error {
  kConnectionLost = 1,  // the connection dropped while the command was in flight
  kTimeout,             // no reply within the command timeout (the connection is then reset)
  kProtocol,            // the server sent bytes that are not RESP, or an unexpected reply
  kHandshake,           // AUTH or SELECT was refused
  kClosed,              // the client was closed
  kOverloaded,          // too many commands queued
};

// The error category of Error values ("switchboard.redis").
const boost::system::error_category& ErrorCategory();
boost::system::error_code make_error_code(Error e);

}  // namespace switchboard::redis

template <>
struct boost::system::is_error_code_enum<switchboard::redis::Error> : std::true_type {};

namespace switchboard::redis {

// Tuning of a RedisClient.
struct RedisOptions {
  std::chrono::milliseconds connect_timeout{3000};
  // A command with no reply after this long fails with kTimeout and resets the connection
  // (replies are matched in order, so a silent connection cannot be trusted).
  std::chrono::milliseconds command_timeout{5000};
  // Commands queued or in flight beyond this fail at once with kOverloaded.
  size_t max_outstanding = 100000;
};

class ClientImpl;

// An asynchronous Redis client on one pipelined connection. Commands never block a thread:
// many may be in flight and their replies are matched in order. The connection is opened on
// first use and reopened by the next command after it drops; commands in flight when it drops
// fail with kConnectionLost. Thread-safe: AsyncCommand may be called from any thread, and the
// completion runs on the handler's associated executor (the caller's coroutine executor with
// use_awaitable). Destroying the client closes the connection and fails what is outstanding.
class RedisClient {
 public:
  using Signature = void(boost::system::error_code, Reply);
  using PipelineSignature = void(boost::system::error_code, std::vector<Reply>);

  static std::shared_ptr<RedisClient> Create(boost::asio::any_io_executor executor,
                                             RedisEndpoint endpoint, RedisOptions options = {});
  // One connection per io thread: a command goes on the connection of the io thread it is sent
  // from (and is read and answered there, crossing no other thread); from any other thread, on
  // the first one. Options apply to each connection.
  static std::shared_ptr<RedisClient> Create(
      const std::vector<boost::asio::io_context::executor_type>& executors, RedisEndpoint endpoint,
      RedisOptions options = {});
  ~RedisClient();
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  // Sends one command (e.g. {"HSET", key, field, value}); completes with (error_code, Reply).
  template <typename Token>
  auto AsyncCommand(std::vector<std::string> args, Token&& token) {
    return boost::asio::async_initiate<Token, Signature>(
        [shards = shards_, fallback = executor_](auto handler, std::vector<std::string> command) {
          boost::asio::any_io_executor ex = boost::asio::get_associated_executor(handler, fallback);
          Submit(shards->Pick(), std::move(command),
                 boost::asio::any_completion_handler<Signature>(std::move(handler)), std::move(ex));
        },
        token, std::move(args));
  }

  // Sends several commands back to back, with no other caller's command between them, and
  // completes once every reply is in: (first transport error or success, one Reply per command).
  // For atomicity wrap them in MULTI/EXEC.
  template <typename Token>
  auto AsyncPipeline(std::vector<std::vector<std::string>> commands, Token&& token) {
    return boost::asio::async_initiate<Token, PipelineSignature>(
        [shards = shards_, fallback = executor_](auto handler,
                                                 std::vector<std::vector<std::string>> batch) {
          boost::asio::any_io_executor ex = boost::asio::get_associated_executor(handler, fallback);
          SubmitPipeline(shards->Pick(), std::move(batch),
                         boost::asio::any_completion_handler<PipelineSignature>(std::move(handler)),
                         std::move(ex));
        },
        token, std::move(commands));
  }

  // Fails every outstanding command with kClosed and refuses later ones.
  void Close();

  const RedisEndpoint& endpoint() const { return endpoint_; }

 private:
  // The connections, and the io thread each belongs to (none for a single connection).
  struct Shards {
    std::vector<std::shared_ptr<ClientImpl>> impls;
    std::vector<boost::asio::io_context::executor_type> threads;
    // The connection of the calling io thread, else the first.
    const std::shared_ptr<ClientImpl>& Pick() const {
      for (size_t i = 0; i < threads.size(); ++i) {
        if (threads[i].running_in_this_thread()) return impls[i];
      }
      return impls.front();
    }
  };

  RedisClient(std::shared_ptr<const Shards> shards, boost::asio::any_io_executor executor,
              RedisEndpoint endpoint);
  // `completion_executor` runs the handler: its associated executor, else the client's.
  static void Submit(const std::shared_ptr<ClientImpl>& impl, std::vector<std::string> args,
                     boost::asio::any_completion_handler<Signature> handler,
                     boost::asio::any_io_executor completion_executor);
  static void SubmitPipeline(const std::shared_ptr<ClientImpl>& impl,
                             std::vector<std::vector<std::string>> commands,
                             boost::asio::any_completion_handler<PipelineSignature> handler,
                             boost::asio::any_io_executor completion_executor);

  std::shared_ptr<const Shards> shards_;
  boost::asio::any_io_executor executor_;
  RedisEndpoint endpoint_;
};

}  // namespace switchboard::redis
