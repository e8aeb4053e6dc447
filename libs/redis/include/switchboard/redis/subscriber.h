#pragma once

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <functional>
#include <memory>
#include <string>

#include "switchboard/redis/client.h"
#include "switchboard/redis/endpoint.h"

namespace switchboard::redis {

class SubscriberImpl;

// A Redis pub/sub subscriber on its own connection (a connection in subscribe mode can carry
// nothing else, so it cannot share RedisClient's pipelined one). One connection serves any
// number of channels. Messages are handed to `on_message(channel, payload)` on the subscriber's
// strand, in the order Redis sent them. The connection is opened on the first Subscribe and
// reopened after it drops (after a short pause), subscribing again to every channel; messages
// published while it was down are lost, so `on_reconnect` runs after each re-subscription to
// let the owner catch up from durable state. Thread-safe. Destroying it closes the connection.
class RedisSubscriber {
 public:
  using MessageHandler = std::function<void(const std::string& channel, std::string payload)>;
  using Signature = void(boost::system::error_code);

  static std::shared_ptr<RedisSubscriber> Create(boost::asio::any_io_executor executor,
                                                 RedisEndpoint endpoint, MessageHandler on_message,
                                                 std::function<void()> on_reconnect = {},
                                                 RedisOptions options = {});
  ~RedisSubscriber();
  RedisSubscriber(const RedisSubscriber&) = delete;
  RedisSubscriber& operator=(const RedisSubscriber&) = delete;

  // Subscribes to `channel`; completes once Redis confirmed the subscription (so a message
  // published afterwards is delivered), or with an error when the connection failed first (the
  // channel stays wanted and is subscribed again on reconnect). Idempotent.
  template <typename Token>
  auto AsyncSubscribe(std::string channel, Token&& token) {
    return boost::asio::async_initiate<Token, Signature>(
        [impl = impl_, fallback = executor_](auto handler, std::string name) {
          boost::asio::any_io_executor ex = boost::asio::get_associated_executor(handler, fallback);
          Submit(impl, std::move(name),
                 boost::asio::any_completion_handler<Signature>(std::move(handler)), std::move(ex));
        },
        token, std::move(channel));
  }

  // Stops delivering `channel`.
  void Unsubscribe(const std::string& channel);
  // Closes the connection; pending subscriptions fail with kClosed and nothing more arrives.
  void Close();

 private:
  RedisSubscriber(std::shared_ptr<SubscriberImpl> impl, boost::asio::any_io_executor executor);
  static void Submit(const std::shared_ptr<SubscriberImpl>& impl, std::string channel,
                     boost::asio::any_completion_handler<Signature> handler,
                     boost::asio::any_io_executor completion_executor);

  std::shared_ptr<SubscriberImpl> impl_;
  boost::asio::any_io_executor executor_;
};

}  // namespace switchboard::redis
