#pragma once

#include <absl/status/status.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "services/edge/src/http_types.h"
#include "services/edge/src/io_pool.h"

namespace switchboard::edge {

// Limits of the HTTP server.
struct HttpServerOptions {
  size_t max_body_bytes = 4 * 1024 * 1024;         // larger bodies get 413
  std::chrono::milliseconds read_timeout{30000};   // each read: a request's header, its body
  std::chrono::milliseconds idle_timeout{60000};   // a kept-alive connection between requests
  std::chrono::milliseconds write_timeout{30000};  // each write of a response or an SSE event
};

// HTTP/1.1 server on Beast with C++20 coroutines: keep-alive, a timeout on every read and
// write, a body limit, responses streamed from a BodyStream (chunked), and client disconnects
// noticed while a request is being handled (its coroutine is then cancelled). Connections are
// spread over the pool's io_contexts.
class HttpServer {
 public:
  HttpServer(IoContextPool& pool, HttpHandler& handler, HttpServerOptions options);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens on "host:port" (port 0 picks a free one).
  absl::Status Listen(const std::string& host_port);
  // The bound port.
  uint16_t port() const { return port_; }
  // Starts accepting connections.
  void Start();
  // Graceful stop: stops accepting, closes idle connections, lets requests in progress finish
  // for up to `grace`, then closes what remains. Blocks until every connection is gone (or a
  // further second has passed). Call before stopping the pool.
  void Stop(std::chrono::milliseconds grace);

  class Connection;

 private:
  void Register(const std::shared_ptr<Connection>& connection);
  void Unregister(Connection* connection);
  bool WaitForConnections(std::chrono::milliseconds timeout);

  struct Acceptor;

  IoContextPool& pool_;
  HttpHandler& handler_;
  HttpServerOptions options_;
  std::unique_ptr<Acceptor> acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};

  std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<Connection*, std::weak_ptr<Connection>> connections_;
};

}  // namespace switchboard::edge
