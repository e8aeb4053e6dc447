#include "services/edge/src/http_server.h"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <future>
#include <vector>

#include "services/edge/src/log_context.h"
#include "services/edge/src/request.h"
#include "switchboard/common/log.h"
#include "switchboard/common/strings.h"
#include "switchboard/jsonrpc/message.h"

namespace switchboard::edge {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using boost::system::error_code;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr uint32_t kHeaderLimit = 32 * 1024;
constexpr std::chrono::milliseconds kDisconnectPoll{250};
constexpr std::chrono::milliseconds kLingerTime{1000};
constexpr size_t kLingerBytes = 8 * 1024 * 1024;

HttpRequest ToRequest(http::request<http::string_body>&& request, const std::string& remote) {
  HttpRequest out;
  out.method = std::string(request.method_string());
  out.target = std::string(request.target());
  size_t q = out.target.find('?');
  out.path = out.target.substr(0, q);
  if (q != std::string::npos) out.query = out.target.substr(q + 1);
  out.headers.reserve(16);
  for (const auto& field : request) {
    out.headers.emplace_back(AsciiLower(field.name_string()), std::string(field.value()));
  }
  out.body = std::move(request.body());
  out.remote_address = remote;
  return out;
}

bool IsHttpParseError(const error_code& ec) {
  static const error_code kEndOfStream = http::error::end_of_stream;
  return &ec.category() == &kEndOfStream.category() && ec != http::error::end_of_stream &&
         ec != http::error::partial_message;
}

template <typename Fields>
void AddHeaders(http::header<false, Fields>& header, const Headers& headers) {
  for (const auto& [name, value] : headers) header.insert(name, value);
  header.set(http::field::server, "switchboard-edge");
}

}  // namespace

struct HttpServer::Acceptor {
  explicit Acceptor(asio::io_context& context) : acceptor(context) {}
  tcp::acceptor acceptor;
};

// One client connection: requests are read, handled and answered in turn on the connection's
// own io_context thread.
class HttpServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, HttpServer& server)
      : stream_(std::move(socket)), server_(server) {}

  asio::any_io_executor executor() { return stream_.get_executor(); }

  asio::awaitable<void> Run() {
    error_code ec;
    // Sync peeks (in WatchDisconnect) must never block the thread.
    stream_.socket().non_blocking(true, ec);
    auto peer = stream_.socket().remote_endpoint(ec);
    if (!ec) remote_ = peer.address().to_string();
    bool first = true;
    while (!closing_) {
      bool keep_alive = co_await ServeOne(first);
      first = false;
      busy_ = false;
      if (!keep_alive) break;
    }
    stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
    if (unread_input_) co_await DrainInput();
    stream_.close();
  }

  // The server is stopping: an idle connection closes now, a busy one after its response.
  void BeginShutdown() {
    closing_ = true;
    if (!busy_) Close();
  }

  void Close() {
    error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.close();
  }

 private:
  // Reads, handles and answers one request; true when the connection may carry another.
  asio::awaitable<bool> ServeOne(bool first) {
    const HttpServerOptions& options = server_.options_;
    http::request_parser<http::string_body> parser;
    parser.header_limit(kHeaderLimit);
    parser.body_limit(options.max_body_bytes);
    stream_.expires_after(first ? options.read_timeout : options.idle_timeout);
    auto [header_ec, header_bytes] =
        co_await http::async_read_header(stream_, buffer_, parser, kTuple);
    if (header_ec) {
      // Beast checks Content-Length against the body limit while it reads the header.
      if (header_ec == http::error::body_limit) {
        co_await WriteTooLarge(parser.get().version());
      } else if (header_ec == http::error::header_limit) {
        co_await WriteError(431, "Request Header Fields Too Large", 11);
      } else if (IsHttpParseError(header_ec)) {
        co_await WriteError(400, "Bad Request: malformed HTTP request", 11);
      }
      co_return false;
    }
    busy_ = true;
    unsigned version = parser.get().version();
    auto expect = parser.get()[http::field::expect];
    if (beast::iequals(expect, "100-continue")) {
      http::response<http::empty_body> go_on{http::status::continue_, version};
      stream_.expires_after(options.write_timeout);
      auto [ec, n] = co_await http::async_write(stream_, go_on, kTuple);
      if (ec) co_return false;
    }
    stream_.expires_after(options.read_timeout);
    auto [body_ec, body_bytes] = co_await http::async_read(stream_, buffer_, parser, kTuple);
    if (body_ec == http::error::body_limit) {
      co_await WriteTooLarge(version);
      co_return false;
    }
    if (body_ec) co_return false;

    http::request<http::string_body> message = parser.release();
    bool keep_alive = message.keep_alive();
    HttpRequest request = ToRequest(std::move(message), remote_);
    stream_.expires_never();
    // The rest runs on an executor that keeps the request's log fields current whenever its
    // work runs, however it interleaves with other connections on this thread.
    auto context = std::make_shared<log::Context>();
    request.log_context = context;
    LogContextExecutor executor(stream_.get_executor(), std::move(context));
    asio::awaitable<bool> respond = Respond(std::move(request), version, keep_alive);
    co_return co_await asio::co_spawn(executor, std::move(respond), asio::use_awaitable);
  }

  // Handles one request and writes its response; true when the connection may carry another.
  asio::awaitable<bool> Respond(HttpRequest request, unsigned version, bool keep_alive) {
    std::string method = request.method;
    std::string path = request.path;
    auto started = std::chrono::steady_clock::now();

    auto outcome = co_await (Dispatch(std::move(request)) || WatchDisconnect());
    if (outcome.index() == 1) {
      log::Debug("client went away before the response",
                 {{"method", method}, {"path", path}, {"remote", remote_}});
      co_return false;
    }
    HttpResponse response = std::move(std::get<0>(outcome));
    keep_alive = keep_alive && !closing_ && !server_.stopping_.load();
    int status = response.status;
    bool written = co_await Write(response, version, &keep_alive);
    auto elapsed = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    // trace_id and span_id are the edge's span of the request (the one exported), from the
    // request's log context.
    log::Write(status >= 500 ? log::Level::kWarn : log::Level::kDebug, "http request",
               {{"method", method},
                {"path", path},
                {"status", status},
                {"duration_ms", static_cast<double>(elapsed.count()) / 1000.0},
                {"remote", remote_},
                {"complete", written}});
    co_return written&& keep_alive;
  }

  // Runs the handler, turning anything it throws (other than cancellation) into a 500.
  asio::awaitable<HttpResponse> Dispatch(HttpRequest request) {
    std::string failure;
    try {
      co_return co_await server_.handler_.Handle(std::move(request));
    } catch (const boost::system::system_error& e) {
      if (e.code() == asio::error::operation_aborted) throw;
      failure = e.what();
    } catch (const std::exception& e) {
      failure = e.what();
    }
    log::Error("request handler failed", {{"error", failure}});
    co_return JsonRpcErrorResponse(500, "null", jsonrpc::kInternalError, "Internal Server Error");
  }

  // Completes when the client closes its end (or the socket fails); never while it is merely
  // quiet. Bytes of a pipelined next request are left in the socket for the next read.
  asio::awaitable<void> WatchDisconnect() {
    tcp::socket& socket = stream_.socket();
    asio::steady_timer pause(socket.get_executor());
    while (true) {
      auto [ec] = co_await socket.async_wait(tcp::socket::wait_read, kTuple);
      if (ec) co_return;
      char byte = 0;
      error_code peek_ec;
      size_t n = socket.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, peek_ec);
      if (peek_ec == asio::error::would_block || peek_ec == asio::error::try_again) continue;
      if (peek_ec || n == 0) co_return;
      pause.expires_after(kDisconnectPoll);
      auto [pause_ec] = co_await pause.async_wait(kTuple);
      if (pause_ec) co_return;
    }
  }

  // The next piece of a streamed body; nullopt at its end or if producing it failed.
  static asio::awaitable<std::optional<std::string>> NextPiece(BodyStream& body) {
    std::string failure;
    try {
      co_return co_await body.Next();
    } catch (const boost::system::system_error& e) {
      if (e.code() == asio::error::operation_aborted) throw;
      failure = e.what();
    } catch (const std::exception& e) {
      failure = e.what();
    }
    log::Error("response stream failed", {{"error", failure}});
    co_return std::nullopt;
  }

  // Writes a response; false when the connection failed or the client went away.
  asio::awaitable<bool> Write(HttpResponse& response, unsigned version, bool* keep_alive) {
    const HttpServerOptions& options = server_.options_;
    auto status = static_cast<http::status>(response.status);
    if (!response.stream) {
      http::response<http::string_body> out{status, version};
      AddHeaders(out, response.headers);
      out.body() = std::move(response.body);
      out.keep_alive(*keep_alive);
      out.prepare_payload();
      stream_.expires_after(options.write_timeout);
      auto [ec, n] = co_await http::async_write(stream_, out, kTuple);
      co_return !ec;
    }

    // A streamed body is chunked; an HTTP/1.0 client gets it raw, ended by closing.
    bool chunked = version >= 11;
    if (!chunked) *keep_alive = false;
    http::response<http::empty_body> out{status, version};
    AddHeaders(out, response.headers);
    out.keep_alive(*keep_alive);
    out.chunked(chunked);
    http::response_serializer<http::empty_body> serializer{out};
    stream_.expires_after(options.write_timeout);
    auto [header_ec, header_bytes] = co_await http::async_write_header(stream_, serializer, kTuple);
    if (header_ec) co_return false;
    while (true) {
      auto next = co_await (NextPiece(*response.stream) || WatchDisconnect());
      if (next.index() == 1) {
        log::Debug("client went away during a stream", {{"remote", remote_}});
        co_return false;
      }
      std::optional<std::string>& piece = std::get<0>(next);
      if (!piece) break;
      stream_.expires_after(options.write_timeout);
      error_code ec;
      if (chunked) {
        std::tie(ec, std::ignore) =
            co_await asio::async_write(stream_, http::make_chunk(asio::buffer(*piece)), kTuple);
      } else {
        std::tie(ec, std::ignore) =
            co_await asio::async_write(stream_, asio::buffer(*piece), kTuple);
      }
      if (ec) co_return false;
    }
    response.stream.reset();
    if (chunked) {
      stream_.expires_after(options.write_timeout);
      auto [ec, n] = co_await asio::async_write(stream_, http::make_chunk_last(), kTuple);
      if (ec) co_return false;
    }
    co_return true;
  }

  asio::awaitable<void> WriteTooLarge(unsigned version) {
    co_await WriteError(413,
                        StrCat("Request Entity Too Large: the body limit is ",
                               server_.options_.max_body_bytes, " bytes"),
                        version);
  }

  // After an early answer the client may still be sending its body. Closing with unread input
  // would reset the connection and could destroy the answer before the client reads it, so the
  // input is read and dropped for a moment first (a lingering close).
  asio::awaitable<void> DrainInput() {
    std::array<char, 16384> scratch;
    size_t drained = 0;
    stream_.expires_after(kLingerTime);
    while (drained < kLingerBytes) {
      auto [ec, n] = co_await stream_.async_read_some(asio::buffer(scratch), kTuple);
      if (ec) break;
      drained += n;
    }
  }

  // Answers a request that cannot be read to its end; the connection then closes.
  asio::awaitable<void> WriteError(int status, std::string_view message, unsigned version) {
    unread_input_ = true;
    HttpResponse response = JsonRpcErrorResponse(status, "null", jsonrpc::kInvalidRequest, message);
    bool keep_alive = false;
    co_await Write(response, version, &keep_alive);
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  HttpServer& server_;
  std::string remote_;
  bool busy_ = false;
  bool closing_ = false;
  bool unread_input_ = false;
};

HttpServer::HttpServer(IoContextPool& pool, HttpHandler& handler, HttpServerOptions options)
    : pool_(pool),
      handler_(handler),
      options_(options),
      acceptor_(std::make_unique<Acceptor>(pool.At(0))) {}

HttpServer::~HttpServer() = default;

absl::Status HttpServer::Listen(const std::string& host_port) {
  size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) {
    return absl::InvalidArgumentError(StrCat("listen address '", host_port, "' is not host:port"));
  }
  std::string host = host_port.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string port = host_port.substr(colon + 1);
  error_code ec;
  tcp::resolver resolver(pool_.At(0));
  auto results =
      resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return absl::InvalidArgumentError(StrCat("cannot resolve '", host_port, "': ", ec.message()));
  }
  tcp::endpoint endpoint = results.begin()->endpoint();
  tcp::acceptor& acceptor = acceptor_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    error_code ignored;
    acceptor.close(ignored);
    return absl::UnavailableError(StrCat("cannot listen on ", host_port, ": ", ec.message()));
  }
  port_ = acceptor.local_endpoint(ec).port();
  return absl::OkStatus();
}

void HttpServer::Start() {
  asio::co_spawn(
      acceptor_->acceptor.get_executor(),
      [this]() -> asio::awaitable<void> {
        tcp::acceptor& acceptor = acceptor_->acceptor;
        while (!stopping_.load()) {
          asio::any_io_executor target = pool_.Next().get_executor();
          auto [ec, socket] = co_await acceptor.async_accept(target, kTuple);
          if (ec) {
            if (stopping_.load() || !acceptor.is_open()) co_return;
            log::Warn("accept failed", {{"error", ec.message()}});
            // Out of descriptors, typically: give connections time to close.
            asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
            co_await pause.async_wait(kTuple);
            continue;
          }
          error_code ignored;
          socket.set_option(tcp::no_delay(true), ignored);
          auto connection = std::make_shared<Connection>(std::move(socket), *this);
          Register(connection);
          asio::co_spawn(connection->executor(), connection->Run(),
                         [this, connection](std::exception_ptr e) {
                           if (e) {
                             try {
                               std::rethrow_exception(e);
                             } catch (const std::exception& ex) {
                               log::Error("connection failed", {{"error", ex.what()}});
                             }
                           }
                           Unregister(connection.get());
                         });
        }
      },
      asio::detached);
}

void HttpServer::Register(const std::shared_ptr<Connection>& connection) {
  std::lock_guard<std::mutex> lock(mu_);
  connections_[connection.get()] = connection;
}

void HttpServer::Unregister(Connection* connection) {
  std::lock_guard<std::mutex> lock(mu_);
  connections_.erase(connection);
  cv_.notify_all();
}

bool HttpServer::WaitForConnections(std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, timeout, [this] { return connections_.empty(); });
}

void HttpServer::Stop(std::chrono::milliseconds grace) {
  if (stopping_.exchange(true)) return;
  auto closed = std::make_shared<std::promise<void>>();
  std::future<void> acceptor_closed = closed->get_future();
  asio::post(acceptor_->acceptor.get_executor(), [this, closed] {
    error_code ignored;
    acceptor_->acceptor.close(ignored);
    closed->set_value();
  });
  acceptor_closed.wait_for(std::chrono::seconds(2));

  auto each_connection = [this](auto action) {
    std::vector<std::shared_ptr<Connection>> live;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& [raw, weak] : connections_) {
        if (auto c = weak.lock()) live.push_back(std::move(c));
      }
    }
    for (auto& c : live) asio::post(c->executor(), [c, action] { action(*c); });
  };
  each_connection([](Connection& c) { c.BeginShutdown(); });
  if (WaitForConnections(grace)) return;
  log::Warn("closing connections still busy after the grace period");
  each_connection([](Connection& c) { c.Close(); });
  WaitForConnections(std::chrono::seconds(1));
}

}  // namespace switchboard::edge
