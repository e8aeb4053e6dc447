#pragma once

#include <absl/status/statusor.h>

#include <boost/asio/awaitable.hpp>
#include <functional>
#include <memory>
#include <string>

#include "switchboard/telemetry/trace_context.h"

namespace switchboard::edge {

// One client message and its context, as sent to the router.
struct RouterMessage {
  std::string endpoint;
  std::string session_id;  // empty for initialize
  std::string protocol_version;
  std::string message;  // one JSON-RPC message, as the client sent it
  std::string user_email;
  std::string api_key_id;
  telemetry::TraceHeaders trace;  // the edge span's context; empty when not traced
};

// One message from the router for the client. The final frame carries the response and ends
// the call; frames before it are related notifications or server-to-client requests.
struct RouterFrame {
  std::string message;
  bool final = false;
};

// One request in flight at the router.
class RouterCall {
 public:
  // Destroying a call before its final frame tells the router to drop it, as Cancel does.
  virtual ~RouterCall() = default;
  // Waits for the next frame. After the final frame there are none. UnavailableError when the
  // router stream broke before the final frame. The awaiting coroutine may be cancelled (the
  // frame, if any, stays queued for the next Next).
  virtual boost::asio::awaitable<absl::StatusOr<RouterFrame>> Next() = 0;
  // Tells the router the client gave up (timeout or disconnect); idempotent, and a no-op after
  // the final frame.
  virtual void Cancel() = 0;
};

// The router as the edge uses it: every message of every client multiplexed on shared streams.
class RouterClient {
 public:
  virtual ~RouterClient() = default;
  // Sends a request; its frames come back through the returned call.
  virtual std::unique_ptr<RouterCall> Call(RouterMessage message) = 0;
  // Sends a notification or a response to a server-to-client request; nothing comes back.
  virtual void Send(RouterMessage message) = 0;

  // Receives the router's messages that belong to a session rather than to a call
  // (list_changed, resources/updated): (session_id, message), from any thread.
  using SessionMessageHandler = std::function<void(std::string session_id, std::string message)>;
  // Sets where those messages go; without a handler they are dropped. Call before traffic.
  virtual void SetSessionMessageHandler(SessionMessageHandler handler) = 0;
};

}  // namespace switchboard::edge
