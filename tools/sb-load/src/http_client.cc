#include "tools/sb-load/src/http_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http.hpp>

#include "switchboard/common/strings.h"

namespace switchboard::load {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr uint64_t kBodyLimit = 64 * 1024 * 1024;

Failure IoFailure(const boost::system::error_code& ec, std::string_view what) {
  if (ec == beast::error::timeout) return {FailureKind::kTimeout, 0, StrCat(what, ": timed out")};
  return {FailureKind::kIo, 0, StrCat(what, ": ", ec.message())};
}

}  // namespace

HttpClient::HttpClient(asio::any_io_executor executor, const HttpClientConfig& config)
    : config_(config), stream_(std::move(executor)) {}

asio::awaitable<std::optional<Failure>> HttpClient::Connect() {
  stream_.expires_after(config_.timeout);
  auto [ec, endpoint] = co_await stream_.async_connect(config_.endpoints, kTuple);
  if (ec) {
    boost::system::error_code ignored;
    stream_.socket().close(ignored);
    co_return Failure{FailureKind::kConnect, 0, StrCat("connect: ", ec.message())};
  }
  stream_.socket().set_option(tcp::no_delay(true), ec);
  buffer_.clear();
  connected_ = true;
  co_return std::nullopt;
}

void HttpClient::Drop() {
  boost::system::error_code ignored;
  stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
  stream_.socket().close(ignored);
  connected_ = false;
}

asio::awaitable<std::optional<Failure>> HttpClient::Exchange(http::verb verb, std::string body,
                                                             Reply* reply) {
  if (!connected_) {
    if (auto failure = co_await Connect()) co_return failure;
  }
  http::request<http::string_body> request{verb, config_.target, 11};
  request.set(http::field::host, config_.host_header);
  request.set(http::field::user_agent, "sb-load");
  if (verb == http::verb::post) {
    request.set(http::field::content_type, "application/json");
    request.set(http::field::accept, "application/json, text/event-stream");
  }
  if (!config_.key.empty()) request.set(http::field::authorization, StrCat("Bearer ", config_.key));
  if (!session_id_.empty()) request.set("Mcp-Session-Id", session_id_);
  if (!protocol_version_.empty()) request.set("MCP-Protocol-Version", protocol_version_);
  request.body() = std::move(body);
  request.keep_alive(true);
  request.prepare_payload();

  stream_.expires_after(config_.timeout);
  auto [write_ec, written] = co_await http::async_write(stream_, request, kTuple);
  if (write_ec) {
    Drop();
    co_return IoFailure(write_ec, "write");
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(kBodyLimit);
  auto [read_ec, read] = co_await http::async_read(stream_, buffer_, parser, kTuple);
  if (read_ec) {
    Drop();
    co_return IoFailure(read_ec, "read");
  }
  stream_.expires_never();
  http::response<http::string_body>& response = parser.get();
  reply->status = static_cast<int>(response.result_int());
  reply->content_type = std::string(response[http::field::content_type]);
  reply->session_id = std::string(response["Mcp-Session-Id"]);
  reply->body = std::move(response.body());
  if (!response.keep_alive()) Drop();
  co_return std::nullopt;
}

asio::awaitable<std::optional<Failure>> HttpClient::Open() {
  session_id_.clear();
  protocol_version_.clear();
  Reply reply;
  if (auto failure = co_await Exchange(http::verb::post,
                                       InitializeBody(0, config_.protocol_version), &reply)) {
    co_return failure;
  }
  std::string version;
  if (auto failure =
          VerifyHttpInitialize(0, reply.status, reply.content_type, reply.body, &version)) {
    co_return failure;
  }
  session_id_ = std::move(reply.session_id);
  protocol_version_ = std::move(version);
  Reply ack;
  if (auto failure = co_await Exchange(http::verb::post, InitializedBody(), &ack)) {
    co_return failure;
  }
  if (ack.status != 202 && ack.status != 200 && ack.status != 204) {
    co_return Failure{FailureKind::kHttpStatus, ack.status,
                      StrCat("notifications/initialized: ", ack.body.substr(0, 200))};
  }
  co_return std::nullopt;
}

asio::awaitable<std::optional<Failure>> HttpClient::Call(const Request& request) {
  Reply reply;
  if (auto failure = co_await Exchange(http::verb::post, request.body, &reply)) {
    co_return failure;
  }
  co_return VerifyHttp(request, reply.status, reply.content_type, reply.body);
}

asio::awaitable<void> HttpClient::Close() {
  if (!session_id_.empty()) {
    Reply ignored;
    co_await Exchange(http::verb::delete_, std::string(), &ignored);
  }
  Drop();
}

}  // namespace switchboard::load
