#include "switchboard/redis/client.h"

#include <array>
#include <boost/asio/append.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_executor.hpp>
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
#include <deque>
#include <exception>

#include "libs/redis/src/connect.h"
#include "switchboard/common/log.h"
#include "switchboard/common/strings.h"

namespace switchboard::redis {

namespace asio = boost::asio;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;
using Handler = asio::any_completion_handler<RedisClient::Signature>;
using PipelineHandler = asio::any_completion_handler<RedisClient::PipelineSignature>;

// A handler and the executor it completes on.
struct Completion {
  Handler handler;
  asio::any_io_executor executor;
};

namespace {

// boost::system::error_category has a protected non-virtual destructor by design.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class Category : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "switchboard.redis"; }
  std::string message(int ev) const override {
    switch (static_cast<Error>(ev)) {
      case Error::kConnectionLost:
        return "redis connection lost";
      case Error::kTimeout:
        return "redis command timed out";
      case Error::kProtocol:
        return "redis protocol error";
      case Error::kHandshake:
        return "redis refused AUTH or SELECT";
      case Error::kClosed:
        return "redis client closed";
      case Error::kOverloaded:
        return "too many redis commands outstanding";
    }
    return "redis error";
  }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& ErrorCategory() {
  static const Category category;
  return category;
}

error_code make_error_code(Error e) { return error_code(static_cast<int>(e), ErrorCategory()); }

// The connection state machine. Every member below is touched only on `strand_`.
class ClientImpl : public std::enable_shared_from_this<ClientImpl> {
 public:
  ClientImpl(asio::any_io_executor executor, RedisEndpoint endpoint, RedisOptions options)
      : strand_(asio::make_strand(executor)),
        endpoint_(std::move(endpoint)),
        options_(options),
        socket_(strand_),
        timer_(strand_) {}

  void Submit(std::vector<std::string> args, Handler handler, asio::any_io_executor ex) {
    asio::dispatch(strand_, [self = shared_from_this(), args = std::move(args),
                             handler = std::move(handler), ex = std::move(ex)]() mutable {
      self->OnSubmit(std::move(args), Completion{std::move(handler), std::move(ex)});
    });
  }

  void SubmitPipeline(std::vector<std::vector<std::string>> commands, PipelineHandler handler,
                      asio::any_io_executor ex) {
    asio::dispatch(strand_, [self = shared_from_this(), commands = std::move(commands),
                             handler = std::move(handler), ex = std::move(ex)]() mutable {
      struct Batch {
        PipelineHandler handler;
        asio::any_io_executor executor;
        std::vector<Reply> replies;
        size_t remaining = 0;
        error_code first_error;
      };
      // Built in place: Boost 1.81's any_completion_handler move assignment recurses forever.
      auto batch = std::make_shared<Batch>(Batch{std::move(handler), std::move(ex),
                                                 std::vector<Reply>(commands.size()),
                                                 commands.size(), error_code()});
      if (commands.empty()) {
        self->CompletePipeline(*batch);
        return;
      }
      for (size_t i = 0; i < commands.size(); ++i) {
        // These handlers have no executor of their own, so they run on the strand.
        self->OnSubmit(std::move(commands[i]),
                       Completion{Handler([self, batch, i](error_code ec, Reply reply) {
                                    if (ec && !batch->first_error) batch->first_error = ec;
                                    batch->replies[i] = std::move(reply);
                                    if (--batch->remaining == 0) self->CompletePipeline(*batch);
                                  }),
                                  self->strand_});
      }
    });
  }

  void Close() {
    asio::dispatch(strand_, [self = shared_from_this()] {
      if (self->state_ == State::kClosed) return;
      self->state_ = State::kClosed;
      self->ResetConnection();
      self->FailAll(&self->inflight_, Error::kClosed);
      self->FailAll(&self->queued_, Error::kClosed);
      self->timer_.cancel();
    });
  }

 private:
  enum class State { kIdle, kConnecting, kReady, kClosed };

  struct Command {
    std::string wire;
    Completion completion;
    Clock::time_point deadline;
  };

  template <typename Batch>
  void CompletePipeline(Batch& batch) {
    asio::post(batch.executor,
               asio::append(std::move(batch.handler), batch.first_error, std::move(batch.replies)));
  }

  // Always posted, never run inline: a handler may submit again without re-entering us.
  void Complete(Command& command, error_code ec, Reply reply) {
    asio::post(command.completion.executor,
               asio::append(std::move(command.completion.handler), ec, std::move(reply)));
  }

  void FailAll(std::deque<Command>* commands, error_code ec) {
    std::deque<Command> failed;
    failed.swap(*commands);
    for (Command& c : failed) Complete(c, ec, Reply{});
  }

  void OnSubmit(std::vector<std::string> args, Completion completion) {
    Command command{std::string(), std::move(completion), Clock::now() + options_.command_timeout};
    if (state_ == State::kClosed) {
      Complete(command, Error::kClosed, Reply{});
      return;
    }
    if (queued_.size() + inflight_.size() >= options_.max_outstanding) {
      Complete(command, Error::kOverloaded, Reply{});
      return;
    }
    AppendCommand(args, &command.wire);
    queued_.push_back(std::move(command));
    ArmTimer();
    if (state_ == State::kIdle) {
      StartConnect();
    } else if (state_ == State::kReady) {
      MaybeWrite();
    }
  }

  void StartConnect() {
    state_ = State::kConnecting;
    uint64_t gen = ++generation_;
    asio::co_spawn(strand_, Connect(gen), [self = shared_from_this(), gen](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        log::Error("redis connect failed unexpectedly", {{"error", ex.what()}});
      }
      if (gen == self->generation_ && self->state_ == State::kConnecting) {
        self->ConnectFailed(Error::kConnectionLost);
      }
    });
  }

  asio::awaitable<void> Connect(uint64_t gen) {
    auto self = shared_from_this();
    error_code ec = co_await ConnectAndHandshake(socket_, endpoint_, options_.connect_timeout,
                                                 /*keep_alive=*/false, decoder_, read_buf_,
                                                 [this, gen] { return gen != generation_; });
    if (gen != generation_) co_return;
    if (ec) co_return ConnectFailed(ec);
    state_ = State::kReady;
    if (logged_down_) {
      log::Info("redis connection restored", {{"redis", endpoint_.Describe()}});
      logged_down_ = false;
    }
    StartRead(gen);
    MaybeWrite();
  }

  void ConnectFailed(error_code ec) {
    if (!logged_down_) {
      log::Warn("redis connect failed", {{"redis", endpoint_.Describe()}, {"error", ec.message()}});
      logged_down_ = true;
    }
    ResetConnection();
    FailAll(&queued_, ec);
  }

  // Closes the socket and forgets everything tied to it; callbacks of the old connection see
  // a stale generation and return.
  void ResetConnection() {
    ++generation_;
    error_code ignored;
    socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
    decoder_.Reset();
    writing_ = false;
    if (state_ != State::kClosed) state_ = State::kIdle;
  }

  // The connection broke: in-flight commands fail; queued ones go out on a new connection.
  void Drop(error_code ec) {
    if (!logged_down_) {
      log::Warn("redis connection lost",
                {{"redis", endpoint_.Describe()}, {"error", ec.message()}});
      logged_down_ = true;
    }
    ResetConnection();
    FailAll(&inflight_, ec);
    if (!queued_.empty() && state_ == State::kIdle) StartConnect();
  }

  void MaybeWrite() {
    if (state_ != State::kReady || writing_ || queued_.empty()) return;
    write_buf_.clear();
    while (!queued_.empty() && write_buf_.size() < kMaxWriteBatch) {
      Command& c = queued_.front();
      write_buf_.append(c.wire);
      std::string().swap(c.wire);
      inflight_.push_back(std::move(c));
      queued_.pop_front();
    }
    writing_ = true;
    uint64_t gen = generation_;
    asio::async_write(
        socket_, asio::buffer(write_buf_),
        asio::bind_executor(strand_, [self = shared_from_this(), gen](error_code ec, size_t) {
          if (gen != self->generation_) return;
          self->writing_ = false;
          if (ec) return self->Drop(Error::kConnectionLost);
          self->MaybeWrite();
        }));
  }

  void StartRead(uint64_t gen) {
    socket_.async_read_some(
        asio::buffer(read_buf_),
        asio::bind_executor(strand_, [self = shared_from_this(), gen](error_code ec, size_t n) {
          self->OnRead(gen, ec, n);
        }));
  }

  void OnRead(uint64_t gen, error_code ec, size_t n) {
    if (gen != generation_) return;
    if (ec) return Drop(Error::kConnectionLost);
    if (!decoder_.Feed(std::string_view(read_buf_.data(), n)).ok()) {
      return Drop(Error::kProtocol);
    }
    while (true) {
      auto next = decoder_.Next();
      if (!next.ok()) return Drop(Error::kProtocol);
      if (!next->has_value()) break;
      if (inflight_.empty()) return Drop(Error::kProtocol);
      Command c = std::move(inflight_.front());
      inflight_.pop_front();
      Complete(c, error_code(), std::move(**next));
    }
    StartRead(gen);
  }

  // One timer tracks the oldest outstanding command. Deadlines grow in submission order, so an
  // armed timer never needs to move earlier; when it fires it re-arms for the next oldest.
  void ArmTimer() {
    if (timer_armed_) return;
    const Command* oldest = Oldest();
    if (oldest == nullptr) return;
    timer_armed_ = true;
    timer_.expires_at(oldest->deadline);
    timer_.async_wait(asio::bind_executor(strand_, [self = shared_from_this()](error_code) {
      self->timer_armed_ = false;
      self->OnTimer();
    }));
  }

  const Command* Oldest() const {
    const Command* oldest = nullptr;
    if (!inflight_.empty()) oldest = &inflight_.front();
    if (!queued_.empty() && (oldest == nullptr || queued_.front().deadline < oldest->deadline)) {
      oldest = &queued_.front();
    }
    return oldest;
  }

  void OnTimer() {
    if (state_ == State::kClosed) return;
    Clock::time_point now = Clock::now();
    if (!inflight_.empty() && inflight_.front().deadline <= now) {
      log::Warn(
          "redis command timed out; resetting the connection",
          {{"redis", endpoint_.Describe()}, {"in_flight", static_cast<int64_t>(inflight_.size())}});
      ResetConnection();
      FailAll(&inflight_, Error::kTimeout);
    }
    while (!queued_.empty() && queued_.front().deadline <= now) {
      Command c = std::move(queued_.front());
      queued_.pop_front();
      Complete(c, Error::kTimeout, Reply{});
    }
    if (state_ == State::kIdle && !queued_.empty()) StartConnect();
    ArmTimer();
  }

  static constexpr size_t kMaxWriteBatch = 256 * 1024;

  asio::strand<asio::any_io_executor> strand_;
  RedisEndpoint endpoint_;
  RedisOptions options_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  State state_ = State::kIdle;
  uint64_t generation_ = 0;
  bool writing_ = false;
  bool timer_armed_ = false;
  bool logged_down_ = false;
  std::deque<Command> queued_;    // not yet written
  std::deque<Command> inflight_;  // written, awaiting replies in order
  std::string write_buf_;
  std::array<char, 16384> read_buf_{};
  ReplyDecoder decoder_;

  friend class RedisClient;
};

std::shared_ptr<RedisClient> RedisClient::Create(asio::any_io_executor executor,
                                                 RedisEndpoint endpoint, RedisOptions options) {
  auto shards = std::make_shared<Shards>();
  shards->impls.push_back(std::make_shared<ClientImpl>(executor, endpoint, options));
  return std::shared_ptr<RedisClient>(
      new RedisClient(std::move(shards), std::move(executor), std::move(endpoint)));
}

std::shared_ptr<RedisClient> RedisClient::Create(
    const std::vector<asio::io_context::executor_type>& executors, RedisEndpoint endpoint,
    RedisOptions options) {
  auto shards = std::make_shared<Shards>();
  for (const auto& executor : executors) {
    shards->impls.push_back(std::make_shared<ClientImpl>(executor, endpoint, options));
    shards->threads.push_back(executor);
  }
  return std::shared_ptr<RedisClient>(
      new RedisClient(std::move(shards), executors.front(), std::move(endpoint)));
}

RedisClient::RedisClient(std::shared_ptr<const Shards> shards, asio::any_io_executor executor,
                         RedisEndpoint endpoint)
    : shards_(std::move(shards)), executor_(std::move(executor)), endpoint_(std::move(endpoint)) {}

RedisClient::~RedisClient() { Close(); }

void RedisClient::Close() {
  for (const auto& impl : shards_->impls) impl->Close();
}

void RedisClient::Submit(const std::shared_ptr<ClientImpl>& impl, std::vector<std::string> args,
                         Handler handler, asio::any_io_executor completion_executor) {
  impl->Submit(std::move(args), std::move(handler), std::move(completion_executor));
}

void RedisClient::SubmitPipeline(const std::shared_ptr<ClientImpl>& impl,
                                 std::vector<std::vector<std::string>> commands,
                                 PipelineHandler handler,
                                 asio::any_io_executor completion_executor) {
  impl->SubmitPipeline(std::move(commands), std::move(handler), std::move(completion_executor));
}

}  // namespace switchboard::redis
