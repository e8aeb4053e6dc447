#include "services/auth/src/http_get.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/url/parse.hpp>
#include <optional>

#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"

namespace switchboard::auth {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Target {
  std::string host;
  std::string port;
  std::string host_header;
  std::string path;
  bool tls = false;
  bool ip_host = false;
};

absl::StatusOr<Target> TargetOf(const std::string& url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed.has_value()) return absl::InvalidArgumentError("not a URL");
  boost::urls::url_view u = *parsed;
  Target t;
  t.tls = u.scheme_id() == boost::urls::scheme::https;
  if ((!t.tls && u.scheme_id() != boost::urls::scheme::http) || u.host().empty()) {
    return absl::InvalidArgumentError("not an http:// or https:// URL");
  }
  t.host = u.host_type() == boost::urls::host_type::ipv6 ? u.host_ipv6_address().to_string()
                                                          : std::string(u.host());
  t.ip_host = u.host_type() == boost::urls::host_type::ipv4 ||
              u.host_type() == boost::urls::host_type::ipv6;
  t.port = u.has_port() ? std::string(u.port()) : (t.tls ? "443" : "80");
  t.host_header = u.encoded_host_and_port();
  t.path = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
  if (u.has_query()) t.path += StrCat("?", std::string_view(u.encoded_query()));
  return t;
}

template <typename Stream>
asio::awaitable<absl::StatusOr<std::string>> Exchange(
    Stream& stream, beast::tcp_stream& tcp, const Target& t, size_t max_body,
    std::chrono::steady_clock::time_point deadline) {
  tcp.expires_at(deadline);
  http::request<http::empty_body> req{http::verb::get, t.path, 11};
  req.set(http::field::host, t.host_header);
  req.set(http::field::user_agent, "switchboard-auth");
  req.set(http::field::accept, "application/json, application/jwk-set+json");
  auto [wec, written] = co_await http::async_write(stream, req, kTuple);
  if (wec) co_return absl::UnavailableError(StrCat("write: ", wec.message()));
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(max_body);
  auto [rec, read] = co_await http::async_read(stream, buffer, parser, kTuple);
  if (rec) co_return absl::UnavailableError(StrCat("read: ", rec.message()));
  if (parser.get().result_int() != 200) {
    co_return absl::UnavailableError(StrCat("HTTP status ", parser.get().result_int()));
  }
  co_return std::move(parser.get().body());
}

asio::awaitable<absl::StatusOr<std::string>> Fetch(Target t, const HttpGetOptions& options,
                                                   asio::ssl::context* tls_context,
                                                   std::chrono::steady_clock::time_point deadline) {
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  auto [ec, results] = co_await resolver.async_resolve(t.host, t.port, kTuple);
  if (ec) co_return absl::UnavailableError(StrCat("resolve: ", ec.message()));
  beast::tcp_stream tcp(executor);
  tcp.expires_at(deadline);
  auto [cec, endpoint] = co_await tcp.async_connect(results, kTuple);
  if (cec) co_return absl::UnavailableError(StrCat("connect: ", cec.message()));
  if (!t.tls) co_return co_await Exchange(tcp, tcp, t, options.max_body_bytes, deadline);
  beast::ssl_stream<beast::tcp_stream> tls(std::move(tcp), *tls_context);
  tls.set_verify_mode(asio::ssl::verify_peer);
  tls.set_verify_callback(asio::ssl::host_name_verification(t.host));
  if (!t.ip_host && !SSL_set_tlsext_host_name(tls.native_handle(), t.host.c_str())) {
    co_return absl::InternalError("TLS: cannot set the server name");
  }
  beast::get_lowest_layer(tls).expires_at(deadline);
  auto [hec] = co_await tls.async_handshake(asio::ssl::stream_base::client, kTuple);
  if (hec) co_return absl::UnavailableError(StrCat("TLS: ", hec.message()));
  co_return co_await Exchange(tls, beast::get_lowest_layer(tls), t, options.max_body_bytes,
                                deadline);
}

}  // namespace

absl::StatusOr<std::string> HttpGet(const std::string& url, const HttpGetOptions& options) {
  absl::StatusOr<Target> target = TargetOf(url);
  if (!target.ok()) {
    return absl::InvalidArgumentError(StrCat(url, ": ", MessageOf(target.status())));
  }
  std::optional<asio::ssl::context> tls_context;
  if (target->tls) {
    try {
      tls_context.emplace(asio::ssl::context::tls_client);
      tls_context->set_options(asio::ssl::context::default_workarounds |
                               asio::ssl::context::no_sslv2 | asio::ssl::context::no_sslv3 |
                               asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
      if (options.ca_file.empty()) {
        tls_context->set_default_verify_paths();
      } else {
        tls_context->load_verify_file(options.ca_file);
      }
    } catch (const std::exception& e) {
      return absl::FailedPreconditionError(StrCat(url, ": TLS settings: ", e.what()));
    }
  }
  std::optional<absl::StatusOr<std::string>> result;  // outlives `io` and its handlers
  asio::io_context io;
  auto deadline = std::chrono::steady_clock::now() + options.timeout;
  asio::co_spawn(io, Fetch(*target, options, tls_context ? &*tls_context : nullptr, deadline),
                 [&result](std::exception_ptr e, absl::StatusOr<std::string> r) {
                   if (e) {
                     result = absl::InternalError("HTTP client failed");
                   } else {
                     result = std::move(r);
                   }
                 });
  // The stream deadlines end connect, handshake and reads; the resolver has none of its own.
  io.run_for(options.timeout + std::chrono::milliseconds(100));
  if (!result) {
    io.stop();
    return absl::DeadlineExceededError(StrCat(url, ": timed out"));
  }
  if (!result->ok()) {
    return absl::Status(result->status().code(), StrCat(url, ": ", MessageOf(result->status())));
  }
  return std::move(**result);
}

}  // namespace switchboard::auth
