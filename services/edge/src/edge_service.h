#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "services/edge/src/auth_client.h"
#include "services/edge/src/http_types.h"
#include "services/edge/src/origin.h"
#include "services/edge/src/request.h"
#include "services/edge/src/router_client.h"
#include "services/edge/src/session_store.h"

namespace switchboard::edge {

// What EdgeService needs besides its collaborators.
struct EdgeOptions {
  OriginPolicy origins;
  // How long a request may wait for the router's next frame before it is answered with
  // -32002 and cancelled at the router. Each frame (a progress notification, say) restarts it.
  std::chrono::milliseconds request_timeout{300000};
  // Readiness: true while the registry Watch is synced.
  std::function<bool()> config_synced = [] { return true; };
};

// The edge's request logic for MCP Streamable HTTP, free of Beast and gRPC types: checks a
// request, asks auth, keeps sessions in the SessionStore, answers ping itself and relays
// everything else through the router, as one JSON response or as an SSE stream when the
// router sends notifications before the response. Holds no per-session state of its own.
class EdgeService : public HttpHandler {
 public:
  EdgeService(EdgeOptions options, AuthClient& auth, RouterClient& router, SessionStore& sessions);

  boost::asio::awaitable<HttpResponse> Handle(HttpRequest request) override;

 private:
  boost::asio::awaitable<HttpResponse> Post(const HttpRequest& request,
                                            const std::string& endpoint);
  boost::asio::awaitable<HttpResponse> Delete(const HttpRequest& request,
                                              const std::string& endpoint);
  boost::asio::awaitable<HttpResponse> Initialize(const HttpRequest& request, const McpPost& post,
                                                  const std::string& endpoint,
                                                  const AuthResult& principal);
  boost::asio::awaitable<HttpResponse> Forward(RouterMessage message, std::string raw_id);
  boost::asio::awaitable<HttpResponse> Ready();

  // Asks auth; nullopt when the request may proceed, else the refusal to send.
  boost::asio::awaitable<std::optional<HttpResponse>> Authorize(
      const HttpRequest& request, const std::string& endpoint, std::string tool,
      std::string session_id, std::string_view raw_id, AuthResult* result);
  // Finds the caller's session; nullopt and `refusal` set when it cannot be used.
  boost::asio::awaitable<std::optional<SessionRecord>> FindSession(const std::string& session_id,
                                                                   const std::string& endpoint,
                                                                   const AuthResult& principal,
                                                                   std::string_view raw_id,
                                                                   HttpResponse* refusal);

  EdgeOptions options_;
  AuthClient& auth_;
  RouterClient& router_;
  SessionStore& sessions_;
};

// Waits for the next frame of `call` for at most `timeout`. A timeout becomes a final -32002
// error (and cancels the call at the router); a broken router stream becomes a final -32001.
boost::asio::awaitable<RouterFrame> NextFrame(RouterCall& call, std::string_view raw_id,
                                              std::chrono::milliseconds timeout);

}  // namespace switchboard::edge
