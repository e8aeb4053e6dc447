// Test-only helpers shared by the edge's HTTP and Redis-backed tests: a plain HTTP/1.1 client
// for the real server, and a /metrics sample reader.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "services/edge/src/http_types.h"

namespace switchboard::edge::testing_http {

inline constexpr std::string_view kInitialize =
    R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",)"
    R"("capabilities":{},"clientInfo":{"name":"test","version":"1"}}})";

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct Reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;

  std::string Header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? std::string() : it->second;
  }
  boost::json::object Json() const { return boost::json::parse(body).as_object(); }
  int64_t ErrorCode() const { return Json().at("error").at("code").as_int64(); }
};

inline boost::beast::http::request<boost::beast::http::string_body> MakeRequest(
    boost::beast::http::verb method, std::string_view target, const HeaderList& headers,
    std::string body) {
  boost::beast::http::request<boost::beast::http::string_body> request{method, target, 11};
  request.set(boost::beast::http::field::host, "127.0.0.1");
  for (const auto& [name, value] : headers) request.set(name, value);
  request.body() = std::move(body);
  request.prepare_payload();
  return request;
}

// Reads one whole response (no body limit).
inline Reply ReadReply(boost::beast::tcp_stream& stream, boost::beast::flat_buffer& buffer) {
  boost::beast::http::response_parser<boost::beast::http::string_body> parser;
  parser.body_limit(boost::none);
  boost::beast::http::read(stream, buffer, parser);
  Reply reply;
  reply.status = parser.get().result_int();
  for (const auto& field : parser.get()) {
    reply.headers[AsciiLower(field.name_string())] = std::string(field.value());
  }
  reply.body = parser.get().body();
  return reply;
}

// One request on a fresh connection to 127.0.0.1:`port`; `wait` bounds the read when given.
inline Reply Send(uint16_t port, boost::beast::http::verb method, std::string_view target,
                  const HeaderList& headers, std::string body = "",
                  std::optional<std::chrono::seconds> wait = std::nullopt) {
  boost::asio::io_context io;
  boost::beast::tcp_stream stream(io);
  stream.connect(
      boost::asio::ip::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
  boost::beast::http::write(stream, MakeRequest(method, target, headers, std::move(body)));
  boost::beast::flat_buffer buffer;
  if (wait) stream.expires_after(*wait);
  return ReadReply(stream, buffer);
}

// The value of one sample line (`series` with its labels) of a /metrics page, 0 when absent.
inline double Sample(const std::string& page, const std::string& series) {
  size_t at = page.find("\n" + series + " ");
  if (at == std::string::npos) return 0;
  return std::stod(page.substr(at + series.size() + 2));
}

}  // namespace switchboard::edge::testing_http
