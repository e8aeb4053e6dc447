#include "services/router/src/http_upstream.h"

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url.hpp>
#include <deque>
#include <exception>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "services/router/src/router_telemetry.h"
#include "switchboard/common/log.h"
#include "switchboard/common/strings.h"
#include "switchboard/jsonrpc/message.h"
#include "switchboard/telemetry/mcp_meta.h"

namespace switchboard::router {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace urls = boost::urls;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kProtocolVersion = "2025-11-25";
constexpr std::string_view kLegacyVersion = "2024-11-05";
constexpr int kMaxGetStreamFailures = 5;
const std::optional<milliseconds> kNoTimeout;  // unsolicited messages may be hours apart
constexpr size_t kMaxBody = 64u << 20;         // a JSON response body

// Where to send an HTTP request: resolved from a URL with Boost.URL.
struct Target {
  std::string host;         // for the resolver (no brackets)
  std::string port;         // numeric
  std::string host_header;  // host[:port] as written in the URL
  std::string path;         // origin-form: path and query
  bool tls = false;         // https: TLS, the server's certificate checked against `host`
  bool ip_host = false;     // the host is an IP address (no SNI; the certificate names the IP)
};

// Reads an absolute http:// or https:// URL; nullopt when it is anything else.
std::optional<Target> TargetOf(urls::url_view url) {
  bool tls = url.scheme_id() == urls::scheme::https;
  if ((url.scheme_id() != urls::scheme::http && !tls) || !url.has_authority() ||
      url.host().empty()) {
    return std::nullopt;
  }
  Target t;
  t.tls = tls;
  if (url.host_type() == urls::host_type::ipv6) {
    t.host = url.host_ipv6_address().to_string();
  } else {
    t.host = url.host();
  }
  t.ip_host = url.host_type() == urls::host_type::ipv4 || url.host_type() == urls::host_type::ipv6;
  t.port = url.has_port() ? std::string(url.port()) : (tls ? "443" : "80");
  t.host_header = url.encoded_host_and_port();
  t.path = url.encoded_path().empty() ? "/" : std::string(url.encoded_path());
  if (url.has_query()) t.path += StrCat("?", std::string_view(url.encoded_query()));
  return t;
}

// One Server-Sent Event.
struct SseEvent {
  std::string event;
  std::string data;
  std::string id;
  bool has_id = false;
};

// Incremental text/event-stream parser (the WHATWG rules: CR, LF or CRLF line ends, `data:`
// lines joined with LF, comments ignored, a blank line dispatches).
class SseParser {
 public:
  // Feeds bytes; calls `on_event` for each complete event.
  void Feed(std::string_view bytes, const std::function<void(SseEvent&)>& on_event) {
    for (char c : bytes) {
      if (skip_lf_) {
        skip_lf_ = false;
        if (c == '\n') continue;
      }
      if (c == '\r' || c == '\n') {
        skip_lf_ = c == '\r';
        Line(on_event);
        line_.clear();
      } else {
        line_.push_back(c);
      }
    }
  }

 private:
  void Line(const std::function<void(SseEvent&)>& on_event) {
    if (line_.empty()) {
      if (has_data_ || current_.has_id) {
        if (current_.event.empty()) current_.event = "message";
        on_event(current_);
      }
      current_ = SseEvent();
      has_data_ = false;
      return;
    }
    if (line_[0] == ':') return;
    std::string_view line = line_;
    std::string_view field = line;
    std::string_view value;
    if (size_t colon = line.find(':'); colon != std::string_view::npos) {
      field = line.substr(0, colon);
      value = line.substr(colon + 1);
      if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
      if (has_data_) current_.data.push_back('\n');
      current_.data.append(value);
      has_data_ = true;
    } else if (field == "event") {
      current_.event = std::string(value);
    } else if (field == "id") {
      current_.id = std::string(value);
      current_.has_id = true;
    }
  }

  std::string line_;
  SseEvent current_;
  bool has_data_ = false;
  bool skip_lf_ = false;
};

// One keep-alive connection: plain TCP, or TLS over it.
struct Conn {
  explicit Conn(const asio::any_io_executor& executor) : plain(executor) {}

  // The TCP connection (under TLS when there is TLS): timeouts and shutdown.
  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : plain; }

  template <class Message>
  asio::awaitable<std::tuple<beast::error_code, size_t>> Write(Message& message) {
    if (tls) co_return co_await http::async_write(*tls, message, kTuple);
    co_return co_await http::async_write(plain, message, kTuple);
  }
  template <class Parser>
  asio::awaitable<std::tuple<beast::error_code, size_t>> ReadHeader(Parser& parser) {
    if (tls) co_return co_await http::async_read_header(*tls, buffer, parser, kTuple);
    co_return co_await http::async_read_header(plain, buffer, parser, kTuple);
  }
  template <class Parser>
  asio::awaitable<std::tuple<beast::error_code, size_t>> ReadSome(Parser& parser) {
    if (tls) co_return co_await http::async_read_some(*tls, buffer, parser, kTuple);
    co_return co_await http::async_read_some(plain, buffer, parser, kTuple);
  }
  template <class Message>
  asio::awaitable<std::tuple<beast::error_code, size_t>> Read(Message& message) {
    if (tls) co_return co_await http::async_read(*tls, buffer, message, kTuple);
    co_return co_await http::async_read(plain, buffer, message, kTuple);
  }

  beast::tcp_stream plain;  // the connection until TLS takes it over
  std::optional<beast::ssl_stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  bool used = false;  // has carried a request before
};

// What came back for one request.
struct Reply {
  beast::error_code ec;
  bool got_header = false;
  unsigned status = 0;
  std::string reason;
  std::string session_id;
  std::string body;  // the body unless it was an event stream
  bool event_stream = false;
  bool keep_alive = false;
};

bool IsRequest(std::string_view message) {
  jsonrpc::Envelope env;
  jsonrpc::ScanError err;
  return jsonrpc::Scan(message, &env, &err) && env.kind == jsonrpc::Kind::kRequest;
}

bool IsEventStream(std::string_view content_type) {
  return beast::iequals(content_type.substr(0, 17), "text/event-stream");
}

// A message for a remote server, with the trace headers of the upstream call it belongs to.
struct Outgoing {
  std::string message;
  telemetry::TraceHeaders trace;
};

// A remote MCP server: a queue of outgoing messages served by a few workers, each with its own
// keep-alive connection, plus (Streamable HTTP) the GET stream or (SSE) the event stream.
// Everything runs on one executor; Send and Close post to it.
class RemoteLink final : public Upstream, public std::enable_shared_from_this<RemoteLink> {
 public:
  RemoteLink(asio::any_io_executor executor, HttpUpstreamOptions options,
             std::shared_ptr<asio::ssl::context> tls_context, std::string tls_error,
             const registry::v1::Server& server, UpstreamEvents events)
      : executor_(std::move(executor)),
        options_(options),
        tls_context_(std::move(tls_context)),
        name_(server.name()),
        legacy_(server.type() == "SSE"),
        bearer_(server.bearer_token()),
        headers_(server.headers().begin(), server.headers().end()),
        url_(server.url()),
        events_(std::move(events)),
        wake_(executor_, asio::steady_timer::time_point::max()),
        tls_error_(std::move(tls_error)) {}

  void Start() {
    auto parsed = urls::parse_uri(url_);
    std::optional<Target> target;
    if (parsed.has_value()) target = TargetOf(*parsed);
    if (!target) {
      Fail("the server URL is not an absolute http:// or https:// URL");
      return;
    }
    if (target->tls && tls_context_ == nullptr) {
      Fail(StrCat("https upstreams need TLS settings the router could not load: ", tls_error_));
      return;
    }
    base_ = *target;
    Spawn(legacy_ ? RunLegacy() : RunStreamable());
  }

  void Send(std::string message) override {
    // The upstream call's span goes along in the message's _meta, and as the
    // traceparent/tracestate/baggage headers of its POST.
    Outgoing m{std::move(message), CurrentTraceHeaders()};
    if (!m.trace.empty()) {
      jsonrpc::Envelope env;
      jsonrpc::ScanError error;
      if (jsonrpc::Scan(m.message, &env, &error)) {
        m.message = telemetry::InjectMeta(m.message, env, m.trace);
      }
    }
    asio::post(executor_, [self = shared_from_this(), m = std::move(m)]() mutable {
      if (self->Stopped()) return;
      if (self->workers_started_ && self->idle_workers_ == 0 && !IsRequest(m.message)) {
        // Every worker waits on a long answer, which may itself wait for this message (the
        // client's answer to a sampling request): it goes on a connection of its own.
        self->Spawn(self->PostAlone(std::move(m)));
        return;
      }
      self->queue_.push_back(std::move(m));
      self->wake_.cancel_one();
    });
  }

  void Close() override {
    asio::post(executor_, [self = shared_from_this()] {
      if (self->closed_) return;
      self->closed_ = true;
      self->StopIo();
      if (!self->legacy_ && !self->session_id_.empty()) self->Spawn(self->DeleteSession());
    });
  }

 private:
  bool Stopped() const { return closed_ || ended_; }

  void Spawn(asio::awaitable<void> work) {
    asio::co_spawn(executor_, std::move(work), [weak = weak_from_this()](std::exception_ptr e) {
      auto self = weak.lock();
      if (!e || !self) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& x) {
        log::Error("remote upstream task failed", {{"server", self->name_}, {"error", x.what()}});
      }
      self->Fail("the HTTP client failed");
    });
  }

  // Ends the link: on_closed(reason) once, unless the router closed it first.
  void Fail(std::string reason) {
    if (Stopped()) return;
    ended_ = true;
    StopIo();
    asio::post(executor_, [on_closed = events_.on_closed, r = std::move(reason)] { on_closed(r); });
  }

  void StopIo() {
    wake_.cancel();
    for (auto& weak : conns_) {
      if (auto conn = weak.lock()) {
        beast::error_code ec;
        conn->tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
        conn->tcp().socket().close(ec);
      }
    }
    conns_.clear();
  }

  void Deliver(std::string message) {
    if (Stopped() || message.empty()) return;
    events_.on_message(std::move(message));
  }

  std::shared_ptr<Conn> NewConn() {
    auto conn = std::make_shared<Conn>(executor_);
    std::erase_if(conns_, [](const std::weak_ptr<Conn>& w) { return w.expired(); });
    conns_.push_back(conn);
    return conn;
  }

  asio::awaitable<beast::error_code> Open(Conn& conn, const Target& target) {
    tcp::resolver resolver(executor_);
    auto [ec, results] = co_await resolver.async_resolve(target.host, target.port, kTuple);
    if (ec) co_return ec;
    conn.plain.expires_after(options_.connect_timeout);
    auto [cec, endpoint] = co_await conn.plain.async_connect(results, kTuple);
    if (cec || !target.tls) co_return cec;
    // TLS: the server's certificate must chain to a trusted CA and name the URL's host.
    conn.tls.emplace(std::move(conn.plain), *tls_context_);
    conn.tls->set_verify_mode(asio::ssl::verify_peer);
    conn.tls->set_verify_callback(asio::ssl::host_name_verification(target.host));
    if (!target.ip_host &&
        !SSL_set_tlsext_host_name(conn.tls->native_handle(), target.host.c_str())) {
      co_return beast::error_code(static_cast<int>(::ERR_get_error()),
                                  asio::error::get_ssl_category());
    }
    conn.tcp().expires_after(options_.connect_timeout);
    auto [hec] = co_await conn.tls->async_handshake(asio::ssl::stream_base::client, kTuple);
    co_return hec;
  }

  // `trace`: the W3C trace headers of the upstream call a POST belongs to (null or empty: none).
  http::request<http::string_body> MakeHttpRequest(
      http::verb verb, const Target& target, std::string body,
      const telemetry::TraceHeaders* trace = nullptr) const {
    http::request<http::string_body> req{verb, target.path, 11};
    req.set(http::field::host, target.host_header);
    for (const auto& [key, value] : headers_) req.set(key, value);
    req.set(http::field::user_agent, "switchboard-router");
    if (!bearer_.empty()) req.set(http::field::authorization, StrCat("Bearer ", bearer_));
    if (trace != nullptr && !trace->empty()) {
      req.set("traceparent", trace->traceparent);
      if (!trace->tracestate.empty()) req.set("tracestate", trace->tracestate);
      if (!trace->baggage.empty()) req.set("baggage", trace->baggage);
    }
    if (verb == http::verb::post) {
      req.set(http::field::content_type, "application/json");
      req.set(http::field::accept, "application/json, text/event-stream");
    } else if (verb == http::verb::get) {
      req.set(http::field::accept, "text/event-stream");
    }
    if (!legacy_) {
      if (!session_id_.empty()) req.set("Mcp-Session-Id", session_id_);
      if (!version_.empty()) req.set("MCP-Protocol-Version", version_);
    }
    req.keep_alive(true);
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
  }

  // Writes `req` and reads the answer. An event-stream body goes to `on_event` as it arrives;
  // any other body is returned whole. Each read waits at most the read timeout, except the reads
  // of an event stream when `body_timeout` is given: `*body_timeout`, or forever when empty.
  asio::awaitable<Reply> Exchange(Conn& conn, http::request<http::string_body> req,
                                  const std::optional<milliseconds>* body_timeout,
                                  const std::function<void(SseEvent&)>& on_event) {
    Reply reply;
    conn.used = true;
    conn.tcp().expires_after(options_.connect_timeout);
    auto [wec, written] = co_await conn.Write(req);
    if (wec) {
      reply.ec = wec;
      co_return reply;
    }
    http::response_parser<http::buffer_body> parser;
    parser.body_limit(std::numeric_limits<std::uint64_t>::max());
    conn.tcp().expires_after(options_.read_timeout);
    auto [hec, hn] = co_await conn.ReadHeader(parser);
    if (hec) {
      reply.ec = hec;
      co_return reply;
    }
    reply.got_header = true;
    const auto& head = parser.get();
    reply.status = head.result_int();
    reply.reason = std::string(head.reason());
    if (auto it = head.find("Mcp-Session-Id"); it != head.end()) {
      reply.session_id = std::string(it->value());
    }
    if (auto it = head.find(http::field::content_type); it != head.end()) {
      reply.event_stream = IsEventStream(it->value());
    }
    SseParser sse;
    std::array<char, 16384> buf;
    while (!parser.is_done()) {
      parser.get().body().data = buf.data();
      parser.get().body().size = buf.size();
      if (!reply.event_stream || body_timeout == nullptr) {
        conn.tcp().expires_after(options_.read_timeout);
      } else if (body_timeout->has_value()) {
        conn.tcp().expires_after(**body_timeout);
      } else {
        conn.tcp().expires_never();
      }
      auto [ec, n] = co_await conn.ReadSome(parser);
      if (ec == http::error::need_buffer) ec = {};
      size_t got = buf.size() - parser.get().body().size;
      if (got > 0) {
        std::string_view bytes(buf.data(), got);
        if (reply.event_stream) {
          sse.Feed(bytes, on_event);
        } else if (reply.body.size() + bytes.size() > kMaxBody) {
          reply.ec = http::error::body_limit;
          co_return reply;
        } else {
          reply.body.append(bytes);
        }
      }
      if (ec) {
        reply.ec = ec;
        co_return reply;
      }
      if (Stopped()) {
        reply.ec = asio::error::operation_aborted;
        co_return reply;
      }
    }
    reply.keep_alive = parser.keep_alive();
    co_return reply;
  }

  // ---- Streamable HTTP ----

  asio::awaitable<void> RunStreamable() {
    auto self = shared_from_this();
    if (auto error = co_await Initialize()) {
      Fail(*error);
      co_return;
    }
    if (Stopped()) co_return;
    StartWorkers();
    Spawn(GetStream());
  }

  // Runs initialize and notifications/initialized on a fresh connection; returns why it failed.
  asio::awaitable<std::optional<std::string>> Initialize() {
    session_id_.clear();
    version_.clear();
    std::string init_id = StrCat("\"switchboard-init-", ++init_count_, "\"");
    std::string request = jsonrpc::MakeRequest(
        init_id, "initialize",
        StrCat("{\"protocolVersion\":\"", kProtocolVersion,
               "\",\"capabilities\":{\"sampling\":{},\"elicitation\":{},\"roots\":{}},"
               "\"clientInfo\":{\"name\":\"switchboard-router\",\"version\":\"0.1.0\"}}"));
    auto conn = NewConn();
    if (auto ec = co_await Open(*conn, base_)) {
      co_return StrCat("cannot reach ", base_.host_header, ": ", ec.message());
    }
    std::string response;
    auto take = [&](std::string message) {
      jsonrpc::Envelope env;
      jsonrpc::ScanError err;
      if (!jsonrpc::Scan(message, &env, &err)) return;
      if (env.kind == jsonrpc::Kind::kResponse && env.id.In(message) == init_id) {
        response = std::move(message);
      } else {
        Deliver(std::move(message));
      }
    };
    Reply reply = co_await Exchange(*conn, MakeHttpRequest(http::verb::post, base_, request),
                                    nullptr, [&](SseEvent& e) {
                                      if (e.event == "message") take(std::move(e.data));
                                    });
    if (Stopped()) co_return "closed";
    if (reply.ec && response.empty()) {
      co_return StrCat("initialize failed at ", base_.host_header, ": ", reply.ec.message());
    }
    if (reply.status != 200) {
      co_return StrCat("initialize answered HTTP ", reply.status, " ", reply.reason);
    }
    if (!reply.event_stream) take(std::move(reply.body));
    if (response.empty()) co_return "initialize got no response";
    boost::system::error_code jec;
    boost::json::value v = boost::json::parse(response, jec);
    const boost::json::value* version = nullptr;
    if (!jec && v.is_object()) {
      if (const auto* error = v.as_object().if_contains("error")) {
        const boost::json::value* m =
            error->is_object() ? error->as_object().if_contains("message") : nullptr;
        co_return StrCat("initialize failed: ",
                         m != nullptr && m->is_string() ? std::string(m->as_string()) : "error");
      }
      if (const auto* result = v.as_object().if_contains("result");
          result != nullptr && result->is_object()) {
        version = result->as_object().if_contains("protocolVersion");
      }
    }
    if (version == nullptr || !version->is_string()) {
      co_return "initialize answered without a protocolVersion";
    }
    version_ = std::string(version->as_string());
    session_id_ = reply.session_id;
    if (!reply.keep_alive || reply.ec) {
      conn = NewConn();
      if (auto ec = co_await Open(*conn, base_)) {
        co_return StrCat("cannot reach ", base_.host_header, ": ", ec.message());
      }
    }
    Reply sent = co_await Exchange(
        *conn,
        MakeHttpRequest(http::verb::post, base_,
                        jsonrpc::MakeNotification("notifications/initialized", "")),
        nullptr, [](SseEvent&) {});
    if (Stopped()) co_return "closed";
    if (sent.ec || sent.status >= 300) {
      co_return StrCat("notifications/initialized failed: ",
                       sent.ec ? sent.ec.message() : StrCat("HTTP ", sent.status));
    }
    ++session_generation_;
    log::Info(
        "remote upstream initialized",
        {{"server", name_}, {"protocol_version", version_}, {"transport", "streamable_http"}});
    co_return std::nullopt;
  }

  // Re-initializes after a 404 unless another worker already did for this session.
  asio::awaitable<void> Reinitialize(uint64_t generation) {
    for (int i = 0; i < 1200 && reinitializing_ && !Stopped(); ++i) {
      asio::steady_timer pause(executor_, milliseconds(50));
      co_await pause.async_wait(kTuple);
    }
    if (Stopped() || generation != session_generation_ || reinitializing_) co_return;
    reinitializing_ = true;
    log::Warn("remote upstream session expired; initializing again", {{"server", name_}});
    auto error = co_await Initialize();
    reinitializing_ = false;
    if (error) {
      Fail(*error);
      co_return;
    }
    if (!get_stream_running_) Spawn(GetStream());
  }

  // The GET stream for unsolicited messages; a 405 means the server has none.
  asio::awaitable<void> GetStream() {
    auto self = shared_from_this();
    get_stream_running_ = true;
    std::string last_event_id;
    int failures = 0;
    while (!Stopped() && failures < kMaxGetStreamFailures) {
      uint64_t generation = session_generation_;
      auto conn = NewConn();
      bool events = false;
      if (!co_await Open(*conn, base_)) {
        auto req = MakeHttpRequest(http::verb::get, base_, "");
        if (!last_event_id.empty()) req.set("Last-Event-ID", last_event_id);
        Reply reply = co_await Exchange(*conn, std::move(req), &kNoTimeout, [&](SseEvent& e) {
          events = true;
          if (e.has_id) last_event_id = e.id;
          if (e.event == "message") Deliver(std::move(e.data));
        });
        if (Stopped()) break;
        if (generation != session_generation_) {
          // A new session: its own stream, from its start.
          last_event_id.clear();
          failures = 0;
          continue;
        }
        if (reply.got_header && reply.status >= 400) break;
      }
      failures = events ? 0 : failures + 1;
      asio::steady_timer pause(executor_, options_.retry_delay);
      co_await pause.async_wait(kTuple);
    }
    get_stream_running_ = false;
  }

  asio::awaitable<void> DeleteSession() {
    auto self = shared_from_this();
    auto conn = std::make_shared<Conn>(executor_);
    if (co_await Open(*conn, base_)) co_return;
    auto req = MakeHttpRequest(http::verb::delete_, base_, "");
    conn->tcp().expires_after(options_.connect_timeout);
    auto [wec, written] = co_await conn->Write(req);
    if (wec) co_return;
    http::response<http::string_body> res;
    conn->tcp().expires_after(options_.connect_timeout);
    co_await conn->Read(res);
  }

  // ---- Legacy SSE ----

  asio::awaitable<void> RunLegacy() {
    auto self = shared_from_this();
    auto conn = NewConn();
    if (auto ec = co_await Open(*conn, base_)) {
      Fail(StrCat("cannot reach ", base_.host_header, ": ", ec.message()));
      co_return;
    }
    std::optional<milliseconds> timeout = options_.read_timeout;
    std::string failure;
    Reply reply = co_await Exchange(
        *conn, MakeHttpRequest(http::verb::get, base_, ""), &timeout, [&](SseEvent& e) {
          if (e.event == "endpoint") {
            if (post_) return;
            auto ref = urls::parse_uri_reference(e.data);
            auto base = urls::parse_uri(url_);
            urls::url resolved;
            std::optional<Target> target;
            if (ref.has_value() && base.has_value() &&
                urls::resolve(*base, *ref, resolved).has_value()) {
              target = TargetOf(resolved);
            }
            if (!target) {
              failure = "the SSE endpoint event named an unusable URL";
              StopIo();
              return;
            }
            post_ = *target;
            timeout.reset();
            version_ = std::string(kLegacyVersion);
            log::Info("remote upstream connected", {{"server", name_}, {"transport", "sse"}});
            StartWorkers();
          } else if (e.event == "message") {
            Deliver(std::move(e.data));
          }
        });
    if (!failure.empty()) {
      Fail(failure);
      co_return;
    }
    if (reply.got_header && reply.status != 200) {
      Fail(StrCat("the SSE stream answered HTTP ", reply.status, " ", reply.reason));
    } else if (reply.ec) {
      Fail(StrCat("the SSE stream was lost: ", reply.ec.message()));
    } else {
      Fail("the SSE stream ended");
    }
  }

  // ---- Sending ----

  void StartWorkers() {
    workers_started_ = true;
    for (int i = 0; i < std::max(1, options_.connections); ++i) Spawn(Worker());
  }

  asio::awaitable<void> Worker() {
    auto self = shared_from_this();
    std::shared_ptr<Conn> conn;
    while (!Stopped()) {
      if (queue_.empty()) {
        ++idle_workers_;
        co_await wake_.async_wait(kTuple);
        --idle_workers_;
        continue;
      }
      Outgoing message = std::move(queue_.front());
      queue_.pop_front();
      co_await Post(conn, std::move(message));
    }
  }

  asio::awaitable<void> PostAlone(Outgoing message) {
    auto self = shared_from_this();
    std::shared_ptr<Conn> conn;
    co_await Post(conn, std::move(message));
  }

  // Answers a request the server could not take with a JSON-RPC error for its id.
  void RequestFailed(const std::string& message, std::string_view why) {
    jsonrpc::Envelope env;
    jsonrpc::ScanError err;
    if (!jsonrpc::Scan(message, &env, &err) || env.kind != jsonrpc::Kind::kRequest) return;
    Deliver(jsonrpc::MakeError(env.id.In(message), jsonrpc::kUpstreamUnavailable,
                               StrCat("MCP server '", name_, "' ", why)));
  }

  asio::awaitable<void> Post(std::shared_ptr<Conn>& conn, Outgoing out) {
    const std::string& message = out.message;
    bool stale_retry = true;
    bool session_retry = !legacy_;
    for (int attempt = 0; attempt < 3 && !Stopped(); ++attempt) {
      const Target& target = legacy_ ? *post_ : base_;
      uint64_t generation = session_generation_;
      if (!conn) {
        conn = NewConn();
        if (auto ec = co_await Open(*conn, target)) {
          conn.reset();
          if (Stopped()) co_return;
          RequestFailed(message, StrCat("is unreachable: ", ec.message()));
          Fail(StrCat("cannot reach ", target.host_header, ": ", ec.message()));
          co_return;
        }
      }
      bool reused = conn->used;
      Reply reply = co_await Exchange(*conn,
                                      MakeHttpRequest(http::verb::post, target, message, &out.trace),
                                      nullptr, [&](SseEvent& e) {
                                        if (e.event == "message" && !legacy_)
                                          Deliver(std::move(e.data));
                                      });
      if (Stopped()) co_return;
      if (reply.ec || !reply.keep_alive) conn.reset();
      if (reply.ec && !reply.got_header) {
        if (reused && stale_retry) {
          stale_retry = false;
          continue;
        }
        RequestFailed(message, StrCat("did not answer: ", reply.ec.message()));
        co_return;
      }
      if (reply.status == 404 && session_retry && !session_id_.empty()) {
        session_retry = false;
        co_await Reinitialize(generation);
        continue;
      }
      if (reply.status >= 300) {
        RequestFailed(message, StrCat("answered HTTP ", reply.status, " ", reply.reason));
        co_return;
      }
      if (reply.ec) {
        RequestFailed(message, StrCat("stream was lost: ", reply.ec.message()));
        co_return;
      }
      if (!legacy_ && !reply.event_stream && !reply.body.empty()) Deliver(std::move(reply.body));
      co_return;
    }
  }

  asio::any_io_executor executor_;
  HttpUpstreamOptions options_;
  std::shared_ptr<asio::ssl::context> tls_context_;  // null when TLS settings failed to load
  std::string name_;
  bool legacy_;
  std::string bearer_;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string url_;
  UpstreamEvents events_;
  Target base_;
  std::optional<Target> post_;  // legacy: where the endpoint event said to POST
  std::deque<Outgoing> queue_;
  asio::steady_timer wake_;
  std::vector<std::weak_ptr<Conn>> conns_;
  std::string tls_error_;  // why tls_context_ is null
  std::string session_id_;
  std::string version_;
  uint64_t init_count_ = 0;
  uint64_t session_generation_ = 0;
  bool reinitializing_ = false;
  bool workers_started_ = false;
  int idle_workers_ = 0;
  bool get_stream_running_ = false;
  bool closed_ = false;  // the router called Close
  bool ended_ = false;   // on_closed was sent
};

}  // namespace

HttpUpstreamFactory::HttpUpstreamFactory(asio::any_io_executor executor,
                                         HttpUpstreamOptions options)
    : executor_(std::move(executor)), options_(std::move(options)) {
  // One client context for every https upstream: TLS 1.2 or later, peers verified against the
  // system's CAs or the configured bundle.
  try {
    auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_client);
    context->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                         asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 |
                         asio::ssl::context::no_tlsv1_1);
    if (options_.ca_file.empty()) {
      context->set_default_verify_paths();
    } else {
      context->load_verify_file(options_.ca_file);
    }
    tls_context_ = std::move(context);
  } catch (const std::exception& e) {
    tls_error_ = options_.ca_file.empty() ? e.what() : StrCat(options_.ca_file, ": ", e.what());
    log::Error("TLS settings for https upstreams could not be loaded", {{"error", tls_error_}});
  }
}

std::shared_ptr<Upstream> HttpUpstreamFactory::Connect(const registry::v1::Server& server,
                                                       UpstreamEvents events) {
  auto link = std::make_shared<RemoteLink>(executor_, options_, tls_context_, tls_error_, server,
                                           std::move(events));
  asio::post(executor_, [link] { link->Start(); });
  return link;
}

std::shared_ptr<Upstream> CompositeUpstreamFactory::Connect(const registry::v1::Server& server,
                                                            UpstreamEvents events) {
  if (server.type() == "STDIO") return stdio_->Connect(server, std::move(events));
  return remote_->Connect(server, std::move(events));
}

}  // namespace switchboard::router
