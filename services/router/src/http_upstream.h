#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <memory>

#include "services/router/src/upstream.h"

namespace switchboard::router {

// Limits of the remote MCP clients.
struct HttpUpstreamOptions {
  std::chrono::milliseconds connect_timeout{10000};  // TCP connect, and each request write
  std::chrono::milliseconds read_timeout{600000};    // each read of a response to a POST
  std::chrono::milliseconds retry_delay{1000};       // before reopening a lost GET stream
  int connections = 4;  // keep-alive connections per upstream: requests in flight at once
  // https upstreams: a PEM file of the CAs to trust instead of the system's (which also honour
  // SSL_CERT_FILE / SSL_CERT_DIR); empty = the system's.
  std::string ca_file;
};

// Connects to remote MCP servers over http:// or https:// (TLS 1.2+, certificate and host name
// verified) as their client: type STREAMABLE_HTTP
// (initialize, Mcp-Session-Id, POSTs answered with JSON or SSE, the GET stream; a 404
// re-initializes and retries once) and SSE (the 2024-11-05 transport: the GET stream's `endpoint`
// event names where to POST). Messages pass through as bytes; an HTTP failure of a request comes
// back as a JSON-RPC error for its id. All I/O and every event run on `executor`, which must be the
// router's executor.
class HttpUpstreamFactory final : public UpstreamFactory {
 public:
  explicit HttpUpstreamFactory(boost::asio::any_io_executor executor,
                               HttpUpstreamOptions options = {});

  std::shared_ptr<Upstream> Connect(const registry::v1::Server& server,
                                    UpstreamEvents events) override;

 private:
  boost::asio::any_io_executor executor_;
  HttpUpstreamOptions options_;
  std::shared_ptr<boost::asio::ssl::context> tls_context_;  // null when it could not be loaded
  std::string tls_error_;
};

// Sends STDIO servers to `stdio` (the runner) and every other type to `remote`.
class CompositeUpstreamFactory final : public UpstreamFactory {
 public:
  CompositeUpstreamFactory(UpstreamFactory* stdio, UpstreamFactory* remote)
      : stdio_(stdio), remote_(remote) {}

  std::shared_ptr<Upstream> Connect(const registry::v1::Server& server,
                                    UpstreamEvents events) override;

 private:
  UpstreamFactory* stdio_;
  UpstreamFactory* remote_;
};

}  // namespace switchboard::router
