#pragma once

#include <functional>
#include <memory>
#include <string>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::router {

// What an upstream connection reports back. Both run on the router's executor.
struct UpstreamEvents {
  // One JSON-RPC message from the server (a response or a notification).
  std::function<void(std::string message)> on_message;
  // A message from a process that serves one user or one session only (the runner's per-user
  // and per-session isolation): its notifications are for that user's or session's clients
  // alone. Unset: such messages go to on_message.
  std::function<void(std::string message, std::string user, std::string session)>
      on_scoped_message;
  // The connection is gone; nothing more will arrive. Not called after Close().
  std::function<void(std::string reason)> on_closed;
};

// A connection to one MCP server, already initialized by whoever sits behind it (the runner
// for STDIO servers). Messages carry the router's own ids.
class Upstream {
 public:
  virtual ~Upstream() = default;
  // Queues one JSON-RPC message for the server; never blocks.
  virtual void Send(std::string message) = 0;
  // Queues a request sent on behalf of `user` and `session` (the runner gives per-user and
  // per-session STDIO servers a process of their own); others ignore them.
  virtual void SendFor(std::string message, const std::string& /*user*/,
                       const std::string& /*session*/) {
    Send(std::move(message));
  }
  // Ends the connection.
  virtual void Close() = 0;
};

// Opens upstream connections (the seam the router's tests fake).
class UpstreamFactory {
 public:
  virtual ~UpstreamFactory() = default;
  // Connects to `server`; failures arrive as on_closed.
  virtual std::shared_ptr<Upstream> Connect(const registry::v1::Server& server,
                                            UpstreamEvents events) = 0;
};

}  // namespace switchboard::router
