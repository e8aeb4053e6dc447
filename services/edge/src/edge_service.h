#pragma once

#include <chrono>
#include <functional>
#include <string>

#include "services/edge/src/auth_answers.h"
#include "services/edge/src/auth_client.h"
#include "services/edge/src/call_audit.h"
#include "services/edge/src/http_types.h"
#include "services/edge/src/origin.h"
#include "services/edge/src/request.h"
#include "services/edge/src/router_client.h"
#include "services/edge/src/session_events.h"
#include "services/edge/src/session_store.h"
#include "services/edge/src/sse.h"

namespace switchboard::edge {

// What EdgeService needs besides its collaborators.
struct EdgeOptions {
  OriginPolicy origins;
  // How long a request may wait for the router's next frame before it is answered with
  // -32002 and cancelled at the router. Each frame (a progress notification, say) restarts it.
  std::chrono::milliseconds request_timeout{300000};
  // Event streams: a `:` comment after this long without a message, and the `retry:` delay.
  std::chrono::milliseconds sse_keepalive{15000};
  std::chrono::milliseconds sse_retry{3000};
  // Readiness: true while the registry Watch is synced.
  std::function<bool()> config_synced = [] { return true; };
  // Hears of every tools/call relayed, once its outcome is known (null: none recorded).
  CallAudit* call_audit = nullptr;
  // Keeps the ALLOW answers auth lets the edge reuse; a request asks it before auth (null: every
  // request asks auth).
  AuthAnswers* auth_answers = nullptr;
};

// The edge's request logic for MCP Streamable HTTP, free of Beast and gRPC types: checks a
// request, asks auth, keeps sessions in the SessionStore, answers ping itself and relays
// everything else through the router, as one JSON response or as an SSE stream when the
// router sends notifications before the response. With `events` it also serves each session's
// GET event stream (messages the router sends for the session, shared across replicas, with
// Last-Event-ID replay) and the 2024-11-05 HTTP+SSE transport (/sse + /message); without, GET
// is 405 and the legacy URLs are 404. Holds no per-session state beyond the open streams.
class EdgeService : public HttpHandler {
 public:
  EdgeService(EdgeOptions options, AuthClient& auth, RouterClient& router, SessionStore& sessions,
              SessionEvents* events = nullptr);

  boost::asio::awaitable<HttpResponse> Handle(HttpRequest request) override;

 private:
  // Handle without the request's span and metrics.
  boost::asio::awaitable<HttpResponse> Dispatch(HttpRequest request, const Route& route);
  boost::asio::awaitable<HttpResponse> Post(const HttpRequest& request,
                                            const std::string& endpoint);
  boost::asio::awaitable<HttpResponse> Delete(const HttpRequest& request,
                                              const std::string& endpoint);
  boost::asio::awaitable<HttpResponse> Initialize(const HttpRequest& request, const McpPost& post,
                                                  const std::string& endpoint,
                                                  const AuthResult& principal);
  // A 2026-07-28 request: checked, authorized and relayed with no session.
  boost::asio::awaitable<HttpResponse> Stateless(const HttpRequest& request, const McpPost& post,
                                                 const std::string& endpoint);
  // Relays a request and answers with its response (as JSON) or its frames (as SSE); a
  // stateless request's error response takes the HTTP status its code calls for.
  // A tools/call (`tool` not empty) is recorded with options_.call_audit.
  boost::asio::awaitable<HttpResponse> Forward(RouterMessage message, std::string raw_id,
                                               bool stateless, std::string tool);
  boost::asio::awaitable<HttpResponse> Get(const HttpRequest& request, const std::string& endpoint);
  boost::asio::awaitable<HttpResponse> LegacySse(const HttpRequest& request,
                                                 const std::string& endpoint);
  boost::asio::awaitable<HttpResponse> LegacyMessage(const HttpRequest& request,
                                                     const std::string& endpoint);
  // The session's event stream, from the entry after `resume` or from now, opening with
  // `first` (an `endpoint` event) or else a priming event.
  // GET with the Last-Event-ID of a request's own stream: the rest of that request's answer,
  // from the Redis stream it was kept in (on whichever replica it was sent from).
  boost::asio::awaitable<HttpResponse> ResumeRequestStream(const std::string& session_id,
                                                           RequestEventId from);
  boost::asio::awaitable<HttpResponse> OpenEventStream(const std::string& session_id,
                                                       std::optional<std::string> resume,
                                                       std::string first);
  // Ends a 2024-11-05 session whose SSE connection closed.
  boost::asio::awaitable<void> EndLegacySession(std::string session_id);
  // Relays one legacy request to the router and appends every frame of its answer to the
  // session's event stream; after an initialize, stores the protocol version chosen. A
  // tools/call (`tool` not empty) is recorded with options_.call_audit.
  boost::asio::awaitable<void> Relay(SessionRecord session, RouterMessage message,
                                     std::string raw_id, bool initialize, std::string tool);
  boost::asio::awaitable<HttpResponse> Ready();
  // A legacy request refused by a rate limit: the JSON-RPC error goes on the session's event
  // stream (202 with Retry-After); `refusal` (the 429) when the stream cannot take it.
  boost::asio::awaitable<HttpResponse> RefuseOnStream(HttpResponse refusal,
                                                      const std::string& session_id,
                                                      const std::string& endpoint,
                                                      const AuthResult& principal,
                                                      const std::string& raw_id);
  // GET /.well-known/oauth-protected-resource/metamcp/{endpoint}/mcp: the RFC 9728 document.
  boost::asio::awaitable<HttpResponse> ResourceMetadataDocument(const std::string& endpoint);

  // Asks auth, or gives auth's answer again when options_.auth_answers still holds it; nullopt
  // when the request may proceed, else the refusal to send.
  boost::asio::awaitable<std::optional<HttpResponse>> Authorize(
      const HttpRequest& request, const std::string& endpoint, std::string tool,
      std::string session_id, std::string_view raw_id, AuthResult* result);
  // Authorizes a GET or DELETE and finds the session its Mcp-Session-Id names; nullopt and
  // `refusal` set when the request may not proceed.
  boost::asio::awaitable<std::optional<SessionRecord>> SessionOfRequest(const HttpRequest& request,
                                                                        const std::string& endpoint,
                                                                        HttpResponse* refusal);
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
  SessionEvents* events_;
};

// Waits for the next frame of `call` for at most `timeout`. A timeout becomes a final -32002
// error (and cancels the call at the router); a broken router stream becomes a final -32001.
boost::asio::awaitable<RouterFrame> NextFrame(RouterCall& call, std::string_view raw_id,
                                              std::chrono::milliseconds timeout);

}  // namespace switchboard::edge
