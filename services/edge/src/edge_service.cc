#include "services/edge/src/edge_service.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <chrono>
#include <vector>

#include "switchboard/common/crypto.h"
#include "switchboard/common/log.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include "switchboard/jsonrpc/message.h"

// GCC 12 reports a false -Wmismatched-new-delete on some Asio coroutine frames, which are
// allocated and freed by awaitable_frame_base's own operators (fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace switchboard::edge {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::chrono::milliseconds kSseKeepAlive{15000};
constexpr std::chrono::milliseconds kReadyTimeout{2000};

// Waits up to `wait` for the call's next frame; nullopt when the wait elapsed first.
asio::awaitable<std::optional<absl::StatusOr<RouterFrame>>> WaitFrame(
    RouterCall& call, std::chrono::milliseconds wait) {
  asio::steady_timer timer(co_await asio::this_coro::executor, wait);
  auto result = co_await (call.Next() || timer.async_wait(kTuple));
  if (result.index() == 1) co_return std::nullopt;
  co_return std::move(std::get<0>(result));
}

RouterFrame Unavailable(std::string_view raw_id) {
  return {jsonrpc::MakeError(raw_id, jsonrpc::kUpstreamUnavailable, "router unavailable"), true};
}

RouterFrame TimedOut(RouterCall& call, std::string_view raw_id) {
  call.Cancel();
  return {jsonrpc::MakeError(raw_id, jsonrpc::kUpstreamTimeout, "request timed out"), true};
}

void SetEventStreamHeaders(HttpResponse* response) {
  response->SetHeader("Content-Type", "text/event-stream");
  response->SetHeader("Cache-Control", "no-cache");
  response->SetHeader("X-Accel-Buffering", "no");
}

std::string ShortId(std::string_view session_id) { return std::string(session_id.substr(0, 8)); }

// The rest of a request's answer as SSE: the frame that arrived first, then every later one
// until the final frame, with `:` keep-alive comments while the router is quiet.
class RouterEventStream : public BodyStream {
 public:
  RouterEventStream(std::unique_ptr<RouterCall> call, RouterFrame first, std::string raw_id,
                    std::chrono::milliseconds timeout)
      : call_(std::move(call)),
        pending_(std::move(first)),
        raw_id_(std::move(raw_id)),
        timeout_(timeout),
        deadline_(Clock::now() + timeout) {}

  asio::awaitable<std::optional<std::string>> Next() override {
    if (pending_) {
      RouterFrame frame = std::move(*pending_);
      pending_.reset();
      done_ = frame.final;
      co_return SseEvent(frame.message);
    }
    if (done_) co_return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    if (left <= std::chrono::milliseconds::zero()) co_return Final(TimedOut(*call_, raw_id_));
    auto frame = co_await WaitFrame(*call_, std::min(left, kSseKeepAlive));
    if (!frame) {
      if (Clock::now() >= deadline_) co_return Final(TimedOut(*call_, raw_id_));
      co_return std::string(":\n\n");
    }
    if (!frame->ok()) co_return Final(Unavailable(raw_id_));
    deadline_ = Clock::now() + timeout_;
    done_ = (*frame)->final;
    co_return SseEvent((*frame)->message);
  }

 private:
  std::string Final(RouterFrame frame) {
    done_ = true;
    return SseEvent(frame.message);
  }

  std::unique_ptr<RouterCall> call_;
  std::optional<RouterFrame> pending_;
  std::string raw_id_;
  std::chrono::milliseconds timeout_;
  Clock::time_point deadline_;
  bool done_ = false;
};

}  // namespace

asio::awaitable<RouterFrame> NextFrame(RouterCall& call, std::string_view raw_id,
                                       std::chrono::milliseconds timeout) {
  auto frame = co_await WaitFrame(call, timeout);
  if (!frame) co_return TimedOut(call, raw_id);
  if (!frame->ok()) co_return Unavailable(raw_id);
  co_return std::move(**frame);
}

EdgeService::EdgeService(EdgeOptions options, AuthClient& auth, RouterClient& router,
                         SessionStore& sessions)
    : options_(std::move(options)), auth_(auth), router_(router), sessions_(sessions) {}

asio::awaitable<HttpResponse> EdgeService::Handle(HttpRequest request) {
  Route route = ClassifyPath(request.path);
  switch (route.kind) {
    case RouteKind::kHealthz:
      if (request.method != "GET") co_return MethodNotAllowed("GET");
      co_return JsonResponse(200, R"({"status":"ok"})");
    case RouteKind::kReadyz:
      if (request.method != "GET") co_return MethodNotAllowed("GET");
      co_return co_await Ready();
    case RouteKind::kMcp:
      if (request.method == "POST") co_return co_await Post(request, route.endpoint);
      if (request.method == "DELETE") co_return co_await Delete(request, route.endpoint);
      co_return MethodNotAllowed("POST, DELETE");
    case RouteKind::kNotFound:
      break;
  }
  co_return JsonResponse(404, R"({"error":"not found"})");
}

asio::awaitable<std::optional<HttpResponse>> EdgeService::Authorize(
    const HttpRequest& request, const std::string& endpoint, std::string tool,
    std::string session_id, std::string_view raw_id, AuthResult* result) {
  Credential credential = ExtractCredential(request);
  AuthQuery query{endpoint,        std::move(credential.value), std::move(credential.source),
                  std::move(tool), std::move(session_id),       request.remote_address};
  absl::StatusOr<AuthResult> decision = co_await auth_.Authorize(std::move(query));
  if (!decision.ok()) {
    log::Warn("auth unavailable",
              {{"endpoint", endpoint}, {"error", MessageOf(decision.status())}});
    co_return JsonRpcErrorResponse(503, raw_id, kHttpLayerError,
                                   "Service Unavailable: authorization is unreachable");
  }
  auto reason = [&](std::string_view fallback) {
    return decision->reason.empty() ? std::string(fallback)
                                    : StrCat(fallback, ": ", decision->reason);
  };
  switch (decision->decision) {
    case AuthResult::Decision::kAllow:
      *result = std::move(*decision);
      co_return std::nullopt;
    case AuthResult::Decision::kNotFound:
      co_return JsonRpcErrorResponse(404, raw_id, kHttpLayerError, reason("Not Found"));
    case AuthResult::Decision::kUnauthenticated: {
      HttpResponse response =
          JsonRpcErrorResponse(401, raw_id, kHttpLayerError, reason("Unauthorized"));
      response.SetHeader("WWW-Authenticate", R"(Bearer realm="switchboard")");
      co_return response;
    }
    case AuthResult::Decision::kForbidden:
      co_return JsonRpcErrorResponse(403, raw_id, kHttpLayerError, reason("Forbidden"));
    case AuthResult::Decision::kRateLimited: {
      HttpResponse response =
          JsonRpcErrorResponse(429, raw_id, kHttpLayerError, reason("Too Many Requests"));
      response.SetHeader("Retry-After", std::to_string(std::max(1, decision->retry_after_seconds)));
      co_return response;
    }
  }
  co_return JsonRpcErrorResponse(503, raw_id, kHttpLayerError, "Service Unavailable");
}

asio::awaitable<std::optional<SessionRecord>> EdgeService::FindSession(
    const std::string& session_id, const std::string& endpoint, const AuthResult& principal,
    std::string_view raw_id, HttpResponse* refusal) {
  absl::StatusOr<std::optional<SessionRecord>> found = co_await sessions_.Touch(session_id);
  if (!found.ok()) {
    log::Warn("session store unavailable", {{"error", MessageOf(found.status())}});
    *refusal = JsonRpcErrorResponse(503, raw_id, kHttpLayerError,
                                    "Service Unavailable: session store unreachable");
    co_return std::nullopt;
  }
  // A session is bound to its endpoint and to the user who opened it; to anyone else it does
  // not exist.
  if (!found->has_value() || (*found)->endpoint != endpoint ||
      (*found)->user_email != principal.user_email) {
    *refusal = JsonRpcErrorResponse(404, raw_id, kHttpLayerError, "Not Found: session not found");
    co_return std::nullopt;
  }
  co_return std::move(*found);
}

asio::awaitable<HttpResponse> EdgeService::Post(const HttpRequest& request,
                                                const std::string& endpoint) {
  std::variant<McpPost, HttpResponse> checked = ValidatePost(request, options_.origins);
  if (auto* refusal = std::get_if<HttpResponse>(&checked)) co_return std::move(*refusal);
  McpPost post = std::move(std::get<McpPost>(checked));
  const jsonrpc::Envelope& env = post.envelope;
  bool is_request = env.kind == jsonrpc::Kind::kRequest;
  std::string_view reply_id = is_request ? std::string_view(post.raw_id) : "null";

  AuthResult principal;
  std::string tool = is_request && env.method == "tools/call" ? post.tool : std::string();
  if (auto refusal = co_await Authorize(request, endpoint, std::move(tool), post.session_id,
                                        reply_id, &principal)) {
    co_return std::move(*refusal);
  }

  if (is_request && env.method == "initialize") {
    co_return co_await Initialize(request, post, endpoint, principal);
  }
  bool is_ping = is_request && env.method == "ping";
  if (post.session_id.empty()) {
    // MCP allows ping at any time, even before a session exists.
    if (is_ping) co_return JsonResponse(200, jsonrpc::MakeResult(post.raw_id, "{}"));
    co_return JsonRpcErrorResponse(400, reply_id, kHttpLayerError,
                                   "Bad Request: Mcp-Session-Id header is required");
  }
  HttpResponse refusal;
  std::optional<SessionRecord> session =
      co_await FindSession(post.session_id, endpoint, principal, reply_id, &refusal);
  if (!session) co_return refusal;
  if (is_ping) co_return JsonResponse(200, jsonrpc::MakeResult(post.raw_id, "{}"));

  RouterMessage message{
      endpoint,
      session->id,
      post.protocol_version.empty() ? session->protocol_version : post.protocol_version,
      request.body,
      principal.user_email,
      principal.api_key_id};
  if (!is_request) {
    router_.Send(std::move(message));
    co_return Accepted();
  }
  co_return co_await Forward(std::move(message), post.raw_id);
}

asio::awaitable<HttpResponse> EdgeService::Initialize(const HttpRequest& request,
                                                      const McpPost& post,
                                                      const std::string& endpoint,
                                                      const AuthResult& principal) {
  std::string requested =
      post.protocol_version.empty() ? post.requested_version : post.protocol_version;
  std::unique_ptr<RouterCall> call = router_.Call(RouterMessage{
      endpoint, "", requested, request.body, principal.user_email, principal.api_key_id});
  // The session id must be in the response headers, so frames are gathered until the final
  // one, which says whether there is a session at all.
  std::string events;
  RouterFrame frame;
  while (true) {
    frame = co_await NextFrame(*call, post.raw_id, options_.request_timeout);
    if (frame.final) break;
    events.append(SseEvent(frame.message));
  }
  HttpResponse response;
  if (events.empty()) {
    response = JsonResponse(200, frame.message);
  } else {
    SetEventStreamHeaders(&response);
    response.body = events + SseEvent(frame.message);
  }

  jsonrpc::Envelope env;
  jsonrpc::ScanError error;
  if (!jsonrpc::Scan(frame.message, &env, &error) || env.kind != jsonrpc::Kind::kResponse ||
      env.result.empty()) {
    co_return response;
  }
  SessionRecord record;
  record.id = crypto::RandomHex(32);
  record.endpoint = endpoint;
  record.user_email = principal.user_email;
  record.api_key_id = principal.api_key_id;
  if (auto chosen = jsonrpc::FindMember(frame.message, env.result, "protocolVersion")) {
    record.protocol_version = jsonrpc::DecodeString(chosen->In(frame.message)).value_or("");
  }
  if (record.protocol_version.empty()) record.protocol_version = requested;
  record.created_unix = std::chrono::duration_cast<std::chrono::seconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  absl::Status stored = co_await sessions_.Create(record);
  if (!stored.ok()) {
    log::Warn("cannot store a new session", {{"endpoint", endpoint}, {"error", MessageOf(stored)}});
    co_return JsonRpcErrorResponse(503, post.raw_id, jsonrpc::kInternalError,
                                   "Service Unavailable: cannot store the session");
  }
  response.SetHeader("Mcp-Session-Id", record.id);
  log::Info("session created", {{"endpoint", endpoint},
                                {"session", ShortId(record.id)},
                                {"protocol_version", record.protocol_version}});
  co_return response;
}

asio::awaitable<HttpResponse> EdgeService::Forward(RouterMessage message, std::string raw_id) {
  std::unique_ptr<RouterCall> call = router_.Call(std::move(message));
  RouterFrame first = co_await NextFrame(*call, raw_id, options_.request_timeout);
  if (first.final) co_return JsonResponse(200, std::move(first.message));
  HttpResponse response;
  SetEventStreamHeaders(&response);
  response.stream = std::make_unique<RouterEventStream>(
      std::move(call), std::move(first), std::move(raw_id), options_.request_timeout);
  co_return response;
}

asio::awaitable<HttpResponse> EdgeService::Delete(const HttpRequest& request,
                                                  const std::string& endpoint) {
  if (auto refusal = CheckOrigin(request, options_.origins)) co_return std::move(*refusal);
  std::string session_id(request.Header("mcp-session-id").value_or(""));
  AuthResult principal;
  if (auto refusal =
          co_await Authorize(request, endpoint, std::string(), session_id, "null", &principal)) {
    co_return std::move(*refusal);
  }
  if (session_id.empty() || !IsValidSessionId(session_id)) {
    co_return JsonRpcErrorResponse(400, "null", kHttpLayerError,
                                   "Bad Request: Mcp-Session-Id header is required");
  }
  HttpResponse refusal;
  std::optional<SessionRecord> session =
      co_await FindSession(session_id, endpoint, principal, "null", &refusal);
  if (!session) co_return refusal;
  absl::StatusOr<bool> deleted = co_await sessions_.Delete(session_id);
  if (!deleted.ok()) {
    log::Warn("session store unavailable", {{"error", MessageOf(deleted.status())}});
    co_return JsonRpcErrorResponse(503, "null", kHttpLayerError,
                                   "Service Unavailable: session store unreachable");
  }
  if (!*deleted) {
    co_return JsonRpcErrorResponse(404, "null", kHttpLayerError, "Not Found: session not found");
  }
  log::Info("session ended", {{"endpoint", endpoint}, {"session", ShortId(session_id)}});
  HttpResponse response;
  response.status = 204;
  co_return response;
}

asio::awaitable<HttpResponse> EdgeService::Ready() {
  std::vector<std::string_view> failed;
  if (!options_.config_synced()) failed.push_back("config_watch");
  asio::steady_timer timer(co_await asio::this_coro::executor, kReadyTimeout);
  auto ping = co_await (sessions_.Ping() || timer.async_wait(kTuple));
  if (ping.index() == 1 || !std::get<0>(ping).ok()) failed.push_back("redis");
  if (failed.empty()) co_return JsonResponse(200, R"({"status":"ok"})");
  std::string body = R"({"status":"unavailable","failed":[)";
  for (size_t i = 0; i < failed.size(); ++i) {
    body.append(StrCat(i == 0 ? "" : ",", "\"", failed[i], "\""));
  }
  body.append("]}");
  co_return JsonResponse(503, std::move(body));
}

}  // namespace switchboard::edge
