#include "switchboard/redis/subscriber.h"

#include <array>
#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <map>
#include <set>
#include <vector>

#include "libs/redis/src/connect.h"
#include "switchboard/common/log.h"

// GCC 12 reports a false -Wmismatched-new-delete on some Asio coroutine frames, which are
// allocated and freed by awaitable_frame_base's own operators (fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace switchboard::redis {

namespace asio = boost::asio;
using boost::system::error_code;
using SubscribeHandler = asio::any_completion_handler<RedisSubscriber::Signature>;

namespace {
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kReconnectPause{500};
}  // namespace

// The subscriber's connection. Every member below is touched only on `strand_`.
class SubscriberImpl : public std::enable_shared_from_this<SubscriberImpl> {
 public:
  SubscriberImpl(asio::any_io_executor executor, RedisEndpoint endpoint,
                 RedisSubscriber::MessageHandler on_message, std::function<void()> on_reconnect,
                 RedisOptions options)
      : strand_(asio::make_strand(executor)),
        endpoint_(std::move(endpoint)),
        on_message_(std::move(on_message)),
        on_reconnect_(std::move(on_reconnect)),
        options_(options),
        socket_(strand_),
        pause_(strand_) {}

  void Subscribe(std::string channel, SubscribeHandler handler, asio::any_io_executor ex) {
    asio::dispatch(strand_, [self = shared_from_this(), channel = std::move(channel),
                             handler = std::move(handler), ex = std::move(ex)]() mutable {
      if (self->closed_) {
        asio::post(ex, asio::append(std::move(handler), error_code(Error::kClosed)));
        return;
      }
      self->channels_.insert(channel);
      if (self->confirmed_.count(channel)) {
        asio::post(ex, asio::append(std::move(handler), error_code()));
        return;
      }
      self->pending_[channel].push_back(Waiter{std::move(handler), std::move(ex)});
      if (!self->running_) {
        self->Start();
      } else if (self->connected_ && !self->sent_.count(channel)) {
        self->sent_.insert(channel);
        self->Send({"SUBSCRIBE", channel});
      }
    });
  }

  void Unsubscribe(std::string channel) {
    asio::dispatch(strand_, [self = shared_from_this(), channel = std::move(channel)] {
      self->channels_.erase(channel);
      self->confirmed_.erase(channel);
      self->Fail(channel, asio::error::operation_aborted);
      if (self->connected_ && self->sent_.erase(channel) > 0) {
        self->Send({"UNSUBSCRIBE", channel});
      }
    });
  }

  void Close() {
    asio::dispatch(strand_, [self = shared_from_this()] {
      if (self->closed_) return;
      self->closed_ = true;
      self->channels_.clear();
      self->FailAll(Error::kClosed);
      self->Disconnect();
      self->pause_.cancel();
    });
  }

 private:
  struct Waiter {
    SubscribeHandler handler;
    asio::any_io_executor executor;
  };

  void Fail(const std::string& channel, error_code ec) {
    auto it = pending_.find(channel);
    if (it == pending_.end()) return;
    std::vector<Waiter> waiters = std::move(it->second);
    pending_.erase(it);
    for (Waiter& w : waiters) asio::post(w.executor, asio::append(std::move(w.handler), ec));
  }

  void FailAll(error_code ec) {
    std::vector<std::string> names;
    for (const auto& [name, waiters] : pending_) names.push_back(name);
    for (const std::string& name : names) Fail(name, ec);
  }

  void Start() {
    running_ = true;
    asio::co_spawn(strand_, Run(), [self = shared_from_this()](std::exception_ptr e) {
      self->running_ = false;
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::Error("redis subscriber failed unexpectedly", {{"error", ex.what()}});
      }
      self->Disconnect();
      self->FailAll(Error::kConnectionLost);
    });
  }

  void Disconnect() {
    ++generation_;
    connected_ = false;
    writing_ = false;
    out_.clear();
    sent_.clear();
    confirmed_.clear();
    error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    decoder_.Reset();
  }

  // Connects, subscribes to every wanted channel and reads until the connection drops; then
  // pauses and starts over while any channel is wanted.
  asio::awaitable<void> Run() {
    auto self = shared_from_this();
    bool reconnect = false;
    while (!closed_ && !channels_.empty()) {
      error_code ec = co_await Connect();
      if (!ec && !closed_) {
        if (logged_down_) {
          log::Info("redis subscriber connection restored", {{"redis", endpoint_.Describe()}});
          logged_down_ = false;
        }
        connected_ = true;
        std::vector<std::string> subscribe = {"SUBSCRIBE"};
        for (const std::string& c : channels_) {
          subscribe.push_back(c);
          sent_.insert(c);
        }
        if (subscribe.size() > 1) Send(subscribe);
        // The PONG comes after every SUBSCRIBE reply: then the catch-up can start.
        catch_up_pending_ = reconnect;
        Send({"PING"});
        reconnect = true;
        ec = co_await ReadLoop();
      }
      if (closed_) break;
      if (!logged_down_) {
        log::Warn("redis subscriber connection lost",
                  {{"redis", endpoint_.Describe()}, {"error", ec.message()}});
        logged_down_ = true;
      }
      Disconnect();
      FailAll(Error::kConnectionLost);
      reconnect = true;
      pause_.expires_after(kReconnectPause);
      co_await pause_.async_wait(kTuple);
    }
  }

  asio::awaitable<error_code> Connect() {
    // The connection is mostly idle: keep-alive probes find a peer that vanished silently.
    co_return co_await ConnectAndHandshake(socket_, endpoint_, options_.connect_timeout,
                                           /*keep_alive=*/true, decoder_, read_buf_,
                                           [] { return false; });
  }

  asio::awaitable<error_code> ReadLoop() {
    while (!closed_) {
      while (true) {
        auto next = decoder_.Next();
        if (!next.ok()) co_return error_code(Error::kProtocol);
        if (!next->has_value()) break;
        OnReply(std::move(**next));
      }
      auto [ec, n] = co_await socket_.async_read_some(asio::buffer(read_buf_), kTuple);
      if (ec) co_return error_code(Error::kConnectionLost);
      if (!decoder_.Feed(std::string_view(read_buf_.data(), n)).ok()) {
        co_return error_code(Error::kProtocol);
      }
    }
    co_return error_code(Error::kClosed);
  }

  void OnReply(Reply reply) {
    if (closed_) return;
    if (reply.IsError()) {
      log::Warn("redis subscriber command refused", {{"reply", reply.str}});
      return;
    }
    if (!reply.IsArray() || reply.elements.empty()) return;
    const std::string& kind = reply.elements[0].str;
    if (kind == "message" && reply.elements.size() == 3) {
      const std::string& channel = reply.elements[1].str;
      if (channels_.count(channel) && on_message_) {
        on_message_(channel, std::move(reply.elements[2].str));
      }
    } else if (kind == "subscribe" && reply.elements.size() >= 2) {
      const std::string& channel = reply.elements[1].str;
      if (channels_.count(channel)) {
        confirmed_.insert(channel);
        Fail(channel, error_code());
      }
    } else if (kind == "pong") {
      if (catch_up_pending_) {
        catch_up_pending_ = false;
        if (on_reconnect_) on_reconnect_();
      }
    }
  }

  void Send(const std::vector<std::string>& command) {
    AppendCommand(command, &out_);
    MaybeWrite();
  }

  void MaybeWrite() {
    if (writing_ || out_.empty() || !connected_) return;
    writing_ = true;
    wire_.swap(out_);
    out_.clear();
    uint64_t gen = generation_;
    asio::async_write(
        socket_, asio::buffer(wire_),
        asio::bind_executor(strand_, [self = shared_from_this(), gen](error_code ec, size_t) {
          if (gen != self->generation_) return;
          self->writing_ = false;
          if (ec) {
            // The read side notices too and reconnects.
            error_code ignored;
            self->socket_.close(ignored);
            return;
          }
          self->MaybeWrite();
        }));
  }

  asio::strand<asio::any_io_executor> strand_;
  RedisEndpoint endpoint_;
  RedisSubscriber::MessageHandler on_message_;
  std::function<void()> on_reconnect_;
  RedisOptions options_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer pause_;
  ReplyDecoder decoder_;
  std::array<char, 16384> read_buf_{};
  std::string out_;
  std::string wire_;
  bool writing_ = false;
  bool running_ = false;
  bool connected_ = false;
  bool closed_ = false;
  bool logged_down_ = false;
  bool catch_up_pending_ = false;
  uint64_t generation_ = 0;
  std::set<std::string> channels_;   // wanted
  std::set<std::string> sent_;       // SUBSCRIBE written on this connection
  std::set<std::string> confirmed_;  // confirmed on this connection
  std::map<std::string, std::vector<Waiter>> pending_;
};

std::shared_ptr<RedisSubscriber> RedisSubscriber::Create(asio::any_io_executor executor,
                                                         RedisEndpoint endpoint,
                                                         MessageHandler on_message,
                                                         std::function<void()> on_reconnect,
                                                         RedisOptions options) {
  auto impl = std::make_shared<SubscriberImpl>(executor, std::move(endpoint), std::move(on_message),
                                               std::move(on_reconnect), options);
  return std::shared_ptr<RedisSubscriber>(new RedisSubscriber(std::move(impl), executor));
}

RedisSubscriber::RedisSubscriber(std::shared_ptr<SubscriberImpl> impl,
                                 asio::any_io_executor executor)
    : impl_(std::move(impl)), executor_(std::move(executor)) {}

RedisSubscriber::~RedisSubscriber() { impl_->Close(); }

void RedisSubscriber::Unsubscribe(const std::string& channel) { impl_->Unsubscribe(channel); }

void RedisSubscriber::Close() { impl_->Close(); }

void RedisSubscriber::Submit(const std::shared_ptr<SubscriberImpl>& impl, std::string channel,
                             SubscribeHandler handler, asio::any_io_executor completion_executor) {
  impl->Subscribe(std::move(channel), std::move(handler), std::move(completion_executor));
}

}  // namespace switchboard::redis
