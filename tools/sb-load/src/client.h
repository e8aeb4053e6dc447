#pragma once

#include <boost/asio/awaitable.hpp>
#include <optional>

#include "tools/sb-load/src/mcp.h"
#include "tools/sb-load/src/verify.h"

namespace switchboard::load {

// One simulated MCP client: a session that carries one request at a time. Implementations run
// on one io_context thread and are not thread-safe.
class Client {
 public:
  virtual ~Client() = default;

  // Sets the session up (connect, initialize, notifications/initialized); nullopt on success.
  virtual boost::asio::awaitable<std::optional<Failure>> Open() = 0;

  // Sends `request` and waits for its answer, at most the configured timeout; nullopt when the
  // answer arrived and verified (VerifyMessage / VerifyHttp).
  virtual boost::asio::awaitable<std::optional<Failure>> Call(const Request& request) = 0;

  // Ends the session (best effort) and releases its connection.
  virtual boost::asio::awaitable<void> Close() = 0;
};

}  // namespace switchboard::load
