#include "switchboard/wire/connection.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <utility>

#include "switchboard/common/strings.h"

namespace switchboard::wire {

namespace asio = boost::asio;
using boost::system::error_code;
using asio::ip::tcp;

namespace {

constexpr size_t kHeader = 4;
constexpr size_t kReadChunk = 64 * 1024;

void PutLength(char* at, uint32_t n) {
  at[0] = static_cast<char>(n >> 24);
  at[1] = static_cast<char>(n >> 16);
  at[2] = static_cast<char>(n >> 8);
  at[3] = static_cast<char>(n);
}

uint32_t GetLength(const char* at) {
  const auto* p = reinterpret_cast<const unsigned char*>(at);
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

// "host:port" split at its last colon ("[::1]:7101" keeps its brackets off).
absl::Status SplitHostPort(const std::string& address, std::string* host, std::string* port) {
  size_t colon = address.rfind(':');
  if (colon == std::string::npos || colon + 1 == address.size()) {
    return absl::InvalidArgumentError(StrCat("not host:port: \"", address, "\""));
  }
  *host = address.substr(0, colon);
  *port = address.substr(colon + 1);
  if (host->size() >= 2 && host->front() == '[' && host->back() == ']') {
    *host = host->substr(1, host->size() - 2);
  }
  return absl::OkStatus();
}

}  // namespace

std::shared_ptr<Connection> Connection::Create(tcp::socket socket, std::string protocol,
                                               Limits limits) {
  auto connection =
      std::shared_ptr<Connection>(new Connection(std::move(socket), std::move(protocol), limits));
  connection->connected_ = true;
  return connection;
}

std::shared_ptr<Connection> Connection::Connect(asio::any_io_executor executor,
                                                const std::string& address, std::string protocol,
                                                int timeout_ms, Limits limits) {
  auto connection = std::shared_ptr<Connection>(
      new Connection(tcp::socket(executor), std::move(protocol), limits));
  asio::dispatch(connection->executor_, [connection, address, timeout_ms] {
    connection->StartConnect(address, timeout_ms);
  });
  return connection;
}

Connection::Connection(tcp::socket socket, std::string protocol, Limits limits)
    : socket_(std::move(socket)),
      executor_(socket_.get_executor()),
      limits_(limits),
      protocol_(std::move(protocol)) {
  error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  // Our name goes first; it is written as soon as the connection is ready.
  Send(std::string_view(protocol_));
}

Connection::~Connection() = default;

void Connection::StartConnect(const std::string& address, int timeout_ms) {
  std::string host, port;
  if (absl::Status s = SplitHostPort(address, &host, &port); !s.ok()) {
    End(std::move(s));
    return;
  }
  connect_timer_ = std::make_unique<asio::steady_timer>(executor_);
  connect_timer_->expires_after(std::chrono::milliseconds(timeout_ms));
  connect_timer_->async_wait([self = shared_from_this(), address](const error_code& ec) {
    if (ec || self->connected_) return;
    self->End(absl::DeadlineExceededError(StrCat("connect to ", address, ": timed out")));
  });
  resolver_ = std::make_unique<tcp::resolver>(executor_);
  resolver_->async_resolve(
      host, port,
      [self = shared_from_this(), address](const error_code& ec,
                                           const tcp::resolver::results_type& results) {
        if (self->ended_) return;
        if (ec) {
          self->End(absl::UnavailableError(StrCat("resolve ", address, ": ", ec.message())));
          return;
        }
        asio::async_connect(self->socket_, results,
                            [self, address](const error_code& connect_ec, const tcp::endpoint&) {
                              if (self->ended_) return;
                              if (connect_ec) {
                                self->End(absl::UnavailableError(StrCat(
                                    "connect to ", address, ": ", connect_ec.message())));
                                return;
                              }
                              self->connect_timer_->cancel();
                              error_code ignored;
                              self->socket_.set_option(tcp::no_delay(true), ignored);
                              self->connected_ = true;
                              if (self->started_) self->Begin();
                            });
      });
}

void Connection::Start(OnFrame on_frame, OnClosed on_closed) {
  asio::dispatch(executor_, [self = shared_from_this(), on_frame = std::move(on_frame),
                             on_closed = std::move(on_closed)]() mutable {
    self->on_frame_ = std::move(on_frame);
    self->on_closed_ = std::move(on_closed);
    self->started_ = true;
    if (self->ended_) {
      self->ReportEnd();
    } else if (self->connected_) {
      self->Begin();
    }
  });
}

void Connection::Begin() {
  bool write;
  {
    std::lock_guard<std::mutex> lock(mu_);
    ready_ = true;
    write = !pending_.empty() && !writing_;
    if (write) writing_ = true;
  }
  if (write) StartWrite();
  Read();
}

bool Connection::Send(const google::protobuf::MessageLite& message) {
  return Queue(message.ByteSizeLong(), [&message](char* at) {
    message.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(at));
  });
}

bool Connection::Send(std::string_view frame) {
  return Queue(frame.size(), [frame](char* at) { std::memcpy(at, frame.data(), frame.size()); });
}

bool Connection::Queue(size_t size, const std::function<void(char*)>& fill) {
  if (size > limits_.max_frame) return false;  // the peer would refuse it
  bool start = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return false;
    if (pending_.size() + kHeader + size > limits_.max_pending) {
      closed_ = true;
      asio::post(executor_, [self = shared_from_this()] {
        self->End(absl::ResourceExhaustedError("the peer did not read its frames fast enough"));
      });
      return false;
    }
    size_t at = pending_.size();
    pending_.resize(at + kHeader + size);
    PutLength(&pending_[at], static_cast<uint32_t>(size));
    fill(&pending_[at + kHeader]);
    if (ready_ && !writing_) {
      writing_ = true;
      start = true;
    }
  }
  if (start) asio::dispatch(executor_, [self = shared_from_this()] { self->StartWrite(); });
  return true;
}

void Connection::StartWrite() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    // The buffers trade places, so each keeps its capacity from one write to the next.
    out_.clear();
    out_.swap(pending_);
  }
  asio::async_write(socket_, asio::buffer(out_),
                    [self = shared_from_this()](const error_code& ec, size_t /*n*/) {
                      if (ec) {
                        self->End(absl::UnavailableError(StrCat("write: ", ec.message())));
                        return;
                      }
                      {
                        std::lock_guard<std::mutex> lock(self->mu_);
                        if (self->pending_.empty() || self->closed_) {
                          self->writing_ = false;
                          return;
                        }
                      }
                      self->StartWrite();
                    });
}

void Connection::Read() {
  // Room for the rest of the frame under way, and for at least a chunk; bytes already handled
  // make way first.
  size_t have = in_end_ - in_begin_;
  size_t room = std::max(kReadChunk, wanted_ > have ? wanted_ - have : 0);
  if (in_.size() - in_end_ < room) {
    std::memmove(in_.data(), in_.data() + in_begin_, have);
    in_begin_ = 0;
    in_end_ = have;
    if (in_.size() - in_end_ < room) in_.resize(in_end_ + room);
  }
  socket_.async_read_some(
      asio::buffer(in_.data() + in_end_, in_.size() - in_end_),
      [self = shared_from_this()](const error_code& ec, size_t n) {
        if (ec) {
          if (ec == asio::error::eof || ec == asio::error::operation_aborted) {
            self->End(absl::OkStatus());
          } else {
            self->End(absl::UnavailableError(StrCat("read: ", ec.message())));
          }
          return;
        }
        self->in_end_ += n;
        if (self->HandleFrames()) self->Read();
      });
}

bool Connection::HandleFrames() {
  wanted_ = 0;
  while (in_end_ - in_begin_ >= kHeader) {
    uint32_t length = GetLength(in_.data() + in_begin_);
    if (length > limits_.max_frame) {
      End(absl::InvalidArgumentError(StrCat("a frame of ", length, " bytes is over the limit of ",
                                            limits_.max_frame)));
      return false;
    }
    if (in_end_ - in_begin_ < kHeader + length) {
      wanted_ = kHeader + length;
      break;
    }
    std::string_view frame(in_.data() + in_begin_ + kHeader, length);
    in_begin_ += kHeader + length;
    if (!hello_seen_) {
      if (frame != protocol_) {
        End(absl::InvalidArgumentError(StrCat("the peer does not speak ", protocol_)));
        return false;
      }
      hello_seen_ = true;
      continue;
    }
    if (closed()) break;
    on_frame_(frame);
    if (ended_) return false;
  }
  if (in_begin_ == in_end_) in_begin_ = in_end_ = 0;
  return !ended_;
}

void Connection::Close() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
  }
  asio::post(executor_, [self = shared_from_this()] { self->End(absl::OkStatus()); });
}

bool Connection::closed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

void Connection::End(absl::Status status) {
  if (ended_) return;
  ended_ = true;
  end_status_ = std::move(status);
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    pending_.clear();
  }
  if (connect_timer_) connect_timer_->cancel();
  if (resolver_) resolver_->cancel();
  error_code ignored;
  socket_.shutdown(tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (started_) ReportEnd();  // else Start reports it
}

void Connection::ReportEnd() {
  // Dropping the handlers breaks any cycle through what they hold.
  OnClosed on_closed = std::exchange(on_closed_, nullptr);
  OnFrame on_frame = std::exchange(on_frame_, nullptr);
  if (on_closed) on_closed(std::move(end_status_));
}

// Listener ------------------------------------------------------------------------------------

struct Listener::State : std::enable_shared_from_this<State> {
  State(std::vector<asio::any_io_executor> executors_in, std::string protocol_in,
        OnConnection on_connection_in, Limits limits_in)
      : executors(std::move(executors_in)),
        acceptor(executors.front()),
        protocol(std::move(protocol_in)),
        on_connection(std::move(on_connection_in)),
        limits(limits_in) {}

  void Accept() {
    asio::any_io_executor target = executors[next++ % executors.size()];
    acceptor.async_accept(target, [self = shared_from_this()](const error_code& ec,
                                                              tcp::socket socket) {
      if (!self->acceptor.is_open()) return;
      if (!ec) {
        auto connection = Connection::Create(std::move(socket), self->protocol, self->limits);
        asio::post(connection->executor(), [self, connection] { self->on_connection(connection); });
      }
      self->Accept();
    });
  }

  std::vector<asio::any_io_executor> executors;
  tcp::acceptor acceptor;
  std::string protocol;
  OnConnection on_connection;
  Limits limits;
  size_t next = 0;
};

absl::StatusOr<std::unique_ptr<Listener>> Listener::Start(
    std::vector<asio::any_io_executor> executors, const std::string& listen, std::string protocol,
    OnConnection on_connection, Limits limits) {
  if (executors.empty()) return absl::InvalidArgumentError("no executor to serve connections on");
  std::string host, port;
  if (absl::Status s = SplitHostPort(listen, &host, &port); !s.ok()) return s;
  error_code ec;
  asio::ip::address ip = asio::ip::make_address(host, ec);
  if (ec) return absl::InvalidArgumentError(StrCat("listen: not an IP address: \"", host, "\""));
  char* end = nullptr;
  unsigned long number = std::strtoul(port.c_str(), &end, 10);
  if (*end != '\0' || number > 65535) {
    return absl::InvalidArgumentError(StrCat("listen: not a port: \"", port, "\""));
  }
  auto state = std::make_shared<State>(std::move(executors), std::move(protocol),
                                       std::move(on_connection), limits);
  tcp::endpoint endpoint(ip, static_cast<uint16_t>(number));
  tcp::acceptor& acceptor = state->acceptor;
  if (acceptor.open(endpoint.protocol(), ec) ||
      acceptor.set_option(tcp::acceptor::reuse_address(true), ec) ||
      acceptor.bind(endpoint, ec) || acceptor.listen(asio::socket_base::max_listen_connections, ec)) {
    return absl::UnavailableError(StrCat("listen on ", listen, ": ", ec.message()));
  }
  std::unique_ptr<Listener> listener(new Listener());
  listener->port_ = acceptor.local_endpoint().port();
  listener->state_ = state;
  asio::dispatch(acceptor.get_executor(), [state] { state->Accept(); });
  return listener;
}

Listener::~Listener() { Stop(); }

void Listener::Stop() {
  if (state_ == nullptr) return;
  std::shared_ptr<State> state = std::move(state_);
  asio::dispatch(state->acceptor.get_executor(), [state] {
    error_code ignored;
    state->acceptor.close(ignored);
  });
}

}  // namespace switchboard::wire
