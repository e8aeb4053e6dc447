#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <string>
#include <vector>

#include "tools/sb-load/src/client.h"

namespace switchboard::load {

// What every HTTP client of a run shares: where to connect and how to present itself.
struct HttpClientConfig {
  std::vector<boost::asio::ip::tcp::endpoint> endpoints;  // resolved once, tried in order
  std::string host_header;                                // Host: value
  std::string target;                                     // request target, e.g. /metamcp/x/mcp
  std::string key;                                        // sent as "Authorization: Bearer"
  std::string protocol_version;                           // asked for in initialize
  std::chrono::nanoseconds timeout{std::chrono::seconds(10)};
};

// An MCP Streamable HTTP client on one keep-alive connection (Beast, coroutines): initialize
// (keeps Mcp-Session-Id and the negotiated version and sends both on every later request),
// notifications/initialized, then one POST per request with
// Accept: application/json, text/event-stream. After a timeout or connection failure it
// reconnects on the next request and carries on with the same session.
class HttpClient : public Client {
 public:
  HttpClient(boost::asio::any_io_executor executor, const HttpClientConfig& config);

  boost::asio::awaitable<std::optional<Failure>> Open() override;
  boost::asio::awaitable<std::optional<Failure>> Call(const Request& request) override;
  // Sends DELETE for the session, then closes the connection.
  boost::asio::awaitable<void> Close() override;

  const std::string& session_id() const { return session_id_; }

 private:
  struct Reply {
    int status = 0;
    std::string content_type;
    std::string session_id;
    std::string body;
  };

  boost::asio::awaitable<std::optional<Failure>> Connect();
  boost::asio::awaitable<std::optional<Failure>> Exchange(boost::beast::http::verb verb,
                                                          std::string body, Reply* reply);
  void Drop();

  const HttpClientConfig& config_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  bool connected_ = false;
  std::string session_id_;
  std::string protocol_version_;
};

}  // namespace switchboard::load
