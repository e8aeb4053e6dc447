#include "services/edge/src/edge_service.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <utility>
#include <vector>

#include "services/edge/src/edge_telemetry.h"
#include "services/edge/src/sse.h"
#include "services/edge/src/stateless.h"
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
constexpr std::chrono::milliseconds kReadyTimeout{2000};
constexpr std::string_view kLegacyVersion = "2024-11-05";
// Frames relayed for one legacy request at most (its final one normally ends it sooner).
constexpr int kMaxRelayedFrames = 100000;

// Waits up to `wait` for the call's next frame; nullopt when the wait elapsed first.
asio::awaitable<std::optional<absl::StatusOr<RouterFrame>>> WaitFrame(
    RouterCall& call, std::chrono::milliseconds wait) {
  asio::steady_timer timer(co_await asio::this_coro::executor, wait);
  auto result = co_await (call.Next() || timer.async_wait(kTuple));
  if (result.index() == 1) co_return std::nullopt;
  co_return std::move(std::get<0>(result));
}

// The protocolVersion that an initialize result (`env`, scanned from `message`) names, if any.
std::optional<std::string> ChosenVersion(std::string_view message, const jsonrpc::Envelope& env) {
  std::optional<jsonrpc::Span> chosen = jsonrpc::FindMember(message, env.result, "protocolVersion");
  if (!chosen) return std::nullopt;
  return jsonrpc::DecodeString(chosen->In(message));
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

// Where a session request's answer is kept so that it can be resumed: the Redis stream of id
// `stream_id` ("<session>/r<token>").
struct RequestStore {
  SessionEvents* events = nullptr;
  std::string stream_id;
  std::string token;
};

// The rest of a request's answer as SSE: the frame that arrived first, then every later one
// until the final frame, with `:` keep-alive comments while the router is quiet. Its events
// carry no ids (the answer is not kept: without a session there is nowhere to resume).
class RouterEventStream : public BodyStream {
 public:
  RouterEventStream(std::unique_ptr<RouterCall> call, RouterFrame first, std::string raw_id,
                    std::chrono::milliseconds timeout, std::chrono::milliseconds keepalive,
                    std::function<void(std::string_view)> on_final = {})
      : call_(std::move(call)),
        pending_(std::move(first)),
        raw_id_(std::move(raw_id)),
        timeout_(timeout),
        keepalive_(keepalive),
        deadline_(Clock::now() + timeout),
        on_final_(std::move(on_final)) {}

  asio::awaitable<std::optional<std::string>> Next() override {
    if (pending_) {
      RouterFrame frame = std::move(*pending_);
      pending_.reset();
      if (frame.final) co_return Final(std::move(frame));
      co_return Event(frame.message);
    }
    if (done_) co_return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline_ - Clock::now());
    if (left <= std::chrono::milliseconds::zero()) co_return Final(TimedOut(*call_, raw_id_));
    auto frame = co_await WaitFrame(*call_, std::min(left, keepalive_));
    if (!frame) {
      if (Clock::now() >= deadline_) co_return Final(TimedOut(*call_, raw_id_));
      co_return SseKeepAlive();
    }
    if (!frame->ok()) co_return Final(Unavailable(raw_id_));
    deadline_ = Clock::now() + timeout_;
    if ((*frame)->final) co_return Final(std::move(**frame));
    co_return Event((*frame)->message);
  }

 private:
  std::string Final(RouterFrame frame) {
    done_ = true;
    if (on_final_) std::exchange(on_final_, nullptr)(frame.message);
    return Event(frame.message);
  }

  static std::string Event(std::string_view message) { return SseFrame("message", "", message); }

  std::unique_ptr<RouterCall> call_;
  std::optional<RouterFrame> pending_;
  std::string raw_id_;
  std::chrono::milliseconds timeout_;
  std::chrono::milliseconds keepalive_;
  Clock::time_point deadline_;
  std::function<void(std::string_view)> on_final_;
  bool done_ = false;
};

// A request stream's first entry: "#<replica> <raw JSON-RPC id>" (never a JSON message).
std::string RequestMarker(std::string_view replica, std::string_view raw_id) {
  return StrCat("#", replica, " ", raw_id);
}

bool ParseRequestMarker(std::string_view entry, std::string* replica, std::string* raw_id) {
  if (entry.empty() || entry.front() != '#') return false;
  size_t space = entry.find(' ');
  if (space == std::string_view::npos) return false;
  *replica = std::string(entry.substr(1, space - 1));
  *raw_id = std::string(entry.substr(space + 1));
  return true;
}

// SSE events of a stored request stream on their way to the live client.
using EventQueue = AsyncQueue<std::string>;
constexpr size_t kLiveEvents = 4096;  // events a slow client may lag before it must resume

// Takes every frame of a session request's answer, starting with `first`, until the final one:
// appends it to the request's Redis stream, then hands it (as an SSE event with the id
// "<token>/<entry>") to `live`. Runs on its own, so a client that goes away loses nothing: the
// rest of the answer is still stored for its resumption. A client too slow for `live` is cut
// off and resumes from Redis like one whose connection broke.
asio::awaitable<void> StoreAndRelay(std::unique_ptr<RouterCall> call, RouterFrame first,
                                    std::shared_ptr<EventQueue> live, RequestStore store,
                                    std::string raw_id, std::chrono::milliseconds timeout,
                                    std::function<void(std::string_view)> on_final) {
  std::optional<RouterFrame> next = std::move(first);
  for (int frames = 0; frames < kMaxRelayedFrames; ++frames) {
    RouterFrame frame;
    if (next) {
      frame = std::move(*next);
      next.reset();
    } else {
      frame = co_await NextFrame(*call, raw_id, timeout);
    }
    auto entry = co_await store.events->Append(store.stream_id, frame.message);
    std::string event;
    if (entry.ok()) {
      event = SseFrame("message", FormatRequestEventId(store.token, *entry), frame.message);
    } else {
      // Sent all the same, without an id: this frame cannot be replayed.
      log::Warn("cannot keep a request's event for resumption",
                {{"error", MessageOf(entry.status())}});
      event = SseFrame("message", "", frame.message);
    }
    if (frame.final) {
      if (on_final) on_final(frame.message);
      live->Finish(std::move(event));
      co_return;
    }
    if (!live->Push(std::move(event))) live->Close();
  }
  live->Close();
}

// A session request's answer as the live client sees it: a priming event (so the client can
// resume from the start), then the events StoreAndRelay hands over, with `:` keep-alives.
class StoredEventStream : public BodyStream {
 public:
  StoredEventStream(std::shared_ptr<EventQueue> live, std::string priming,
                    std::chrono::milliseconds keepalive)
      : live_(std::move(live)), priming_(std::move(priming)), keepalive_(keepalive) {}

  // The client went away: StoreAndRelay goes on storing, without relaying.
  ~StoredEventStream() override { live_->Close(); }

  asio::awaitable<std::optional<std::string>> Next() override {
    if (!priming_.empty()) co_return std::exchange(priming_, std::string());
    asio::steady_timer timer(co_await asio::this_coro::executor, keepalive_);
    auto next = co_await (live_->AsyncPop(kTuple) || timer.async_wait(kTuple));
    if (next.index() == 1) co_return SseKeepAlive();
    auto [ec, event] = std::move(std::get<0>(next));
    if (ec) co_return std::nullopt;  // eof: the answer is complete (or the client too slow)
    co_return std::move(event);
  }

 private:
  std::shared_ptr<EventQueue> live_;
  std::string priming_;
  std::chrono::milliseconds keepalive_;
};

// A session's event stream: `first`, then every message appended to the session's Redis
// stream after `cursor`, each as an SSE event whose id is its entry id, with `:` keep-alives
// (each renewing the session) while it is quiet. Ends when the session ends, another stream
// replaces it, the edge stops or Redis fails (the client then resumes with Last-Event-ID).
class SessionEventStream : public BodyStream {
 public:
  // With a `request_token`, the stream replays one request's answer (stream id
  // "<session>/r<token>", event ids "<token>/<entry>") and ends after its response.
  SessionEventStream(SessionEvents& events, SessionStore& sessions, SessionListener listener,
                     std::string cursor, std::string first, std::chrono::milliseconds keepalive,
                     std::function<void()> on_end, std::string request_token = {})
      : events_(events),
        sessions_(sessions),
        listener_(std::move(listener)),
        session_id_(listener_.session_id.substr(0, listener_.session_id.find('/'))),
        cursor_(std::move(cursor)),
        first_(std::move(first)),
        keepalive_(keepalive),
        on_end_(std::move(on_end)),
        request_token_(std::move(request_token)) {}

  // For a request's stream: the replica serving the request and the request's id, for the
  // error that ends the stream if that replica stops before answering.
  void SetRequestOwner(std::string owner, std::string raw_id) {
    owner_ = std::move(owner);
    raw_id_ = std::move(raw_id);
  }

  ~SessionEventStream() override {
    events_.Unlisten(listener_);
    if (on_end_) on_end_();
  }

  asio::awaitable<std::optional<std::string>> Next() override {
    if (!first_.empty()) co_return std::exchange(first_, std::string());
    // A round reads what is new, else waits for a wake-up; a wake-up leads to a read, so three
    // rounds always produce an event unless the stream was woken for nothing.
    for (int round = 0; round < 3; ++round) {
      if (!buffered_.empty()) {
        StoredEvent event = std::move(buffered_.front());
        buffered_.pop_front();
        if (request_token_.empty()) co_return SseFrame("message", event.id, event.message);
        if (event.message.empty()) continue;  // an older replica's opening marker
        if (ParseRequestMarker(event.message, &owner_, &raw_id_)) continue;
        jsonrpc::Envelope env;
        jsonrpc::ScanError error;
        if (jsonrpc::Scan(event.message, &env, &error) && env.kind == jsonrpc::Kind::kResponse) {
          closed_ = true;  // the request's response ends its stream
          buffered_.clear();
        }
        co_return SseFrame("message", FormatRequestEventId(request_token_, event.id),
                           event.message);
      }
      if (closed_) co_return std::nullopt;
      auto read = co_await events_.ReadAfter(listener_.session_id, cursor_);
      if (!read.ok()) {
        log::Warn("cannot read a session's events", {{"session", ShortId(listener_.session_id)},
                                                     {"error", MessageOf(read.status())}});
        co_return std::nullopt;
      }
      if (!read->empty()) {
        cursor_ = read->back().id;
        for (StoredEvent& event : *read) buffered_.push_back(std::move(event));
        continue;
      }
      if (owner_gone_) {
        // Nothing more was stored after the replica serving the request stopped.
        closed_ = true;
        co_return SseFrame(
            "message", "",
            jsonrpc::MakeError(raw_id_.empty() ? "null" : raw_id_, jsonrpc::kUpstreamUnavailable,
                               "the edge replica serving this request stopped before it was "
                               "answered; its outcome is unknown"));
      }
      asio::steady_timer timer(co_await asio::this_coro::executor, keepalive_);
      auto signal = co_await (listener_.signals->AsyncPop(kTuple) || timer.async_wait(kTuple));
      if (signal.index() == 1 && !request_token_.empty() && !owner_.empty()) {
        // A request's answer comes from the replica that took it; if that one is gone, it
        // never will, unless it stored the response just before: the next round reads once more.
        auto alive = co_await events_.ReplicaAlive(owner_);
        if (alive.ok() && !*alive) {
          owner_gone_ = true;
          continue;
        }
      }
      if (signal.index() == 1) {
        // An open stream is use of the session, so it renews it; and a session that ended
        // while its close signal could not arrive (pub/sub reconnecting) ends the stream here.
        auto session = co_await sessions_.Touch(session_id_);
        if (session.ok() && !session->has_value()) co_return std::nullopt;
        co_return SseKeepAlive();
      }
      auto [ec, value] = std::get<0>(signal);
      if (ec || value == StreamSignal::kClose) closed_ = true;
    }
    co_return SseKeepAlive();
  }

 private:
  SessionEvents& events_;
  SessionStore& sessions_;
  SessionListener listener_;
  std::string session_id_;  // the session the stream belongs to, renewed while it is open
  std::string cursor_;
  std::string first_;
  std::chrono::milliseconds keepalive_;
  std::function<void()> on_end_;
  std::string request_token_;
  std::string owner_;   // the replica serving the request (from its stream's marker)
  std::string raw_id_;  // the request's JSON-RPC id, raw JSON
  bool owner_gone_ = false;  // the replica serving the request has stopped
  std::deque<StoredEvent> buffered_;
  bool closed_ = false;
};

// A quoted-string of RFC 9110 (the values auth sends hold no '"' or '\\', but stay safe).
std::string Quoted(std::string_view value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out.push_back('\\');
    if (static_cast<unsigned char>(c) >= 0x20 && c != 0x7f) out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// WWW-Authenticate for a refusal: RFC 6750's Bearer challenge, naming the RFC 9728 metadata on
// OAuth endpoints (MCP's authorization discovery), the error, and the scope needed.
std::string BearerChallenge(const AuthResult& decision) {
  if (decision.resource_metadata_url.empty()) return R"(Bearer realm="switchboard")";
  std::string out = "Bearer ";
  if (!decision.bearer_error.empty()) {
    out.append(StrCat("error=", Quoted(decision.bearer_error), ", "));
  }
  if (!decision.required_scope.empty()) {
    out.append(StrCat("scope=", Quoted(decision.required_scope), ", "));
  }
  out.append(StrCat("resource_metadata=", Quoted(decision.resource_metadata_url)));
  return out;
}

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

asio::awaitable<RouterFrame> NextFrame(RouterCall& call, std::string_view raw_id,
                                       std::chrono::milliseconds timeout) {
  auto frame = co_await WaitFrame(call, timeout);
  if (!frame) co_return TimedOut(call, raw_id);
  if (!frame->ok()) co_return Unavailable(raw_id);
  co_return std::move(**frame);
}

EdgeService::EdgeService(EdgeOptions options, AuthClient& auth, RouterClient& router,
                         SessionStore& sessions, SessionEvents* events)
    : options_(std::move(options)),
      auth_(auth),
      router_(router),
      sessions_(sessions),
      events_(events) {
  if (events_ != nullptr) {
    router_.SetSessionMessageHandler([events](std::string session_id, std::string message) {
      events->Publish(std::move(session_id), std::move(message));
    });
  }
}

asio::awaitable<HttpResponse> EdgeService::Handle(HttpRequest request) {
  Route route = ClassifyPath(request.path);
  RequestTelemetry telemetry(&request, route);
  HttpResponse response = co_await Dispatch(std::move(request), route);
  telemetry.Finish(&response);
  co_return response;
}

asio::awaitable<HttpResponse> EdgeService::Dispatch(HttpRequest request, const Route& route) {
  if (route.kind == RouteKind::kNotFound && request.path == "/metrics") {
    if (request.method != "GET") co_return MethodNotAllowed("GET");
    co_return MetricsResponse();
  }
  switch (route.kind) {
    case RouteKind::kHealthz:
      if (request.method != "GET") co_return MethodNotAllowed("GET");
      co_return JsonResponse(200, R"({"status":"ok"})");
    case RouteKind::kReadyz:
      if (request.method != "GET") co_return MethodNotAllowed("GET");
      co_return co_await Ready();
    case RouteKind::kResourceMetadata:
      if (request.method != "GET") co_return MethodNotAllowed("GET");
      co_return co_await ResourceMetadataDocument(route.endpoint);
    case RouteKind::kMcp:
      if (request.method == "POST") co_return co_await Post(request, route.endpoint);
      if (request.method == "DELETE") co_return co_await Delete(request, route.endpoint);
      if (request.method == "GET") co_return co_await Get(request, route.endpoint);
      co_return MethodNotAllowed(events_ != nullptr ? "GET, POST, DELETE" : "POST, DELETE");
    case RouteKind::kLegacySse:
      if (events_ == nullptr) break;
      if (request.method != "GET") co_return MethodNotAllowed("GET");
      co_return co_await LegacySse(request, route.endpoint);
    case RouteKind::kLegacyMessage:
      if (events_ == nullptr) break;
      if (request.method != "POST") co_return MethodNotAllowed("POST");
      co_return co_await LegacyMessage(request, route.endpoint);
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
  query.trace = request.trace;
  AuthAnswers* answers = options_.auth_answers;
  std::string answer_key;
  std::optional<AuthResult> reused;
  if (answers != nullptr) {
    answer_key = AuthAnswers::KeyOf(query);
    reused = answers->Find(answer_key);
  }
  absl::StatusOr<AuthResult> decision;
  if (reused.has_value()) {
    decision = std::move(*reused);
    CountAuthReused(endpoint);
    if (request.span != nullptr) request.span->SetAttribute("switchboard.auth.reused", true);
  } else {
    Clock::time_point asked = Clock::now();  // the answer's reuse period counts from here
    decision = co_await auth_.Authorize(std::move(query));
    if (answers != nullptr && decision.ok()) {
      answers->Store(std::move(answer_key), *decision, asked);
    }
  }
  if (!decision.ok()) {
    log::Warn("auth unavailable",
              {{"endpoint", endpoint}, {"error", MessageOf(decision.status())}});
    co_return JsonRpcErrorResponse(503, raw_id, kHttpLayerError,
                                   "Service Unavailable: authorization is unreachable");
  }
  // From here on the request's log lines name who it is for (a user, never a credential).
  if (request.log_context != nullptr) request.log_context->user = decision->user_email;
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
      response.SetHeader("WWW-Authenticate", BearerChallenge(*decision));
      co_return response;
    }
    case AuthResult::Decision::kForbidden: {
      HttpResponse response =
          JsonRpcErrorResponse(403, raw_id, kHttpLayerError, reason("Forbidden"));
      if (decision->bearer_error == "insufficient_scope") {
        response.SetHeader("WWW-Authenticate", BearerChallenge(*decision));
      }
      co_return response;
    }
    case AuthResult::Decision::kRateLimited: {
      CountRateLimited(endpoint);
      *result = *decision;  // who was refused, and for how long
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

asio::awaitable<std::optional<SessionRecord>> EdgeService::SessionOfRequest(
    const HttpRequest& request, const std::string& endpoint, HttpResponse* refusal) {
  std::string session_id(request.Header("mcp-session-id").value_or(""));
  AuthResult principal;
  if (auto refused =
          co_await Authorize(request, endpoint, std::string(), session_id, "null", &principal)) {
    *refusal = std::move(*refused);
    co_return std::nullopt;
  }
  if (session_id.empty() || !IsValidSessionId(session_id)) {
    *refusal = JsonRpcErrorResponse(400, "null", kHttpLayerError,
                                    "Bad Request: Mcp-Session-Id header is required");
    co_return std::nullopt;
  }
  co_return co_await FindSession(session_id, endpoint, principal, "null", refusal);
}

asio::awaitable<HttpResponse> EdgeService::Post(const HttpRequest& request,
                                                const std::string& endpoint) {
  std::variant<McpPost, HttpResponse> checked = ValidatePost(request, options_.origins);
  if (auto* refusal = std::get_if<HttpResponse>(&checked)) co_return std::move(*refusal);
  McpPost post = std::move(std::get<McpPost>(checked));
  if (IsStatelessPost(request, post)) co_return co_await Stateless(request, post, endpoint);
  const jsonrpc::Envelope& env = post.envelope;
  bool is_request = env.kind == jsonrpc::Kind::kRequest;
  std::string_view reply_id = is_request ? std::string_view(post.raw_id) : "null";

  AuthResult principal;
  if (auto refusal = co_await Authorize(request, endpoint, post.tool, post.session_id, reply_id,
                                        &principal)) {
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
  message.trace = request.trace;
  if (!is_request) {
    router_.Send(std::move(message));
    co_return Accepted();
  }
  co_return co_await Forward(std::move(message), post.raw_id, /*stateless=*/false, post.tool);
}

asio::awaitable<HttpResponse> EdgeService::Initialize(const HttpRequest& request,
                                                      const McpPost& post,
                                                      const std::string& endpoint,
                                                      const AuthResult& principal) {
  std::string requested =
      post.protocol_version.empty() ? post.requested_version : post.protocol_version;
  RouterMessage message{
      endpoint, "", requested, request.body, principal.user_email, principal.api_key_id};
  message.trace = request.trace;
  std::unique_ptr<RouterCall> call = router_.Call(std::move(message));
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
  record.protocol_version = ChosenVersion(frame.message, env).value_or("");
  if (record.protocol_version.empty()) record.protocol_version = requested;
  record.created_unix = NowUnix();
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

asio::awaitable<HttpResponse> EdgeService::Stateless(const HttpRequest& request,
                                                     const McpPost& post,
                                                     const std::string& endpoint) {
  const jsonrpc::Envelope& env = post.envelope;
  // Nothing in the stateless protocol needs a notification (a request is cancelled by closing
  // its stream), and a client never answers the server: input comes in the retried request.
  if (env.kind == jsonrpc::Kind::kNotification) co_return Accepted();
  if (env.kind == jsonrpc::Kind::kResponse) {
    co_return JsonRpcErrorResponse(400, "null", jsonrpc::kInvalidRequest,
                                   "Bad Request: stateless requests carry no responses; send "
                                   "input in the retried request's inputResponses");
  }
  if (auto refusal = CheckStatelessPost(request, post)) co_return std::move(*refusal);
  AuthResult principal;
  if (auto refusal =
          co_await Authorize(request, endpoint, post.tool, "", post.raw_id, &principal)) {
    co_return std::move(*refusal);
  }
  // Built as a named local: GCC 12 mishandles aggregate temporaries in co_await expressions.
  RouterMessage message{endpoint,     "", std::string(kStatelessVersion), request.body,
                        principal.user_email, principal.api_key_id};
  message.trace = request.trace;
  co_return co_await Forward(std::move(message), post.raw_id, /*stateless=*/true, post.tool);
}

asio::awaitable<HttpResponse> EdgeService::Forward(RouterMessage message, std::string raw_id,
                                                   bool stateless, std::string tool) {
  std::string session_id = message.session_id;
  std::function<void(std::string_view)> on_final =
      AuditHook(options_.call_audit, message.user_email, message.endpoint, std::move(tool));
  std::unique_ptr<RouterCall> call = router_.Call(std::move(message));
  RouterFrame first = co_await NextFrame(*call, raw_id, options_.request_timeout);
  if (first.final) {
    if (on_final) on_final(first.message);
    int status = stateless ? StatelessStatus(first.message) : 200;
    co_return JsonResponse(status, std::move(first.message));
  }
  HttpResponse response;
  SetEventStreamHeaders(&response);
  if (events_ != nullptr && !session_id.empty() && !stateless) {
    // The request's stream opens with a marker entry, whose id primes the client.
    RequestStore store{events_, "", crypto::RandomHex(8)};
    store.stream_id = StrCat(session_id, "/r", store.token);
    // The marker names this replica and the request, so that a client resuming on another
    // replica after this one died is told the answer will not come.
    auto marker = co_await events_->Append(store.stream_id,
                                           RequestMarker(events_->replica_id(), raw_id));
    if (marker.ok()) {
      auto live = std::make_shared<EventQueue>(kLiveEvents);
      response.stream = std::make_unique<StoredEventStream>(
          live, SsePrimingEvent(FormatRequestEventId(store.token, *marker), options_.sse_retry),
          options_.sse_keepalive);
      asio::any_io_executor executor = co_await asio::this_coro::executor;
      asio::co_spawn(executor,
                     StoreAndRelay(std::move(call), std::move(first), std::move(live),
                                   std::move(store), std::move(raw_id), options_.request_timeout,
                                   std::move(on_final)),
                     asio::detached);
      co_return response;
    }
    log::Warn("cannot keep a request's stream for resumption",
              {{"error", MessageOf(marker.status())}});
  }
  response.stream = std::make_unique<RouterEventStream>(
      std::move(call), std::move(first), std::move(raw_id), options_.request_timeout,
      options_.sse_keepalive, std::move(on_final));
  co_return response;
}

asio::awaitable<HttpResponse> EdgeService::Get(const HttpRequest& request,
                                               const std::string& endpoint) {
  if (events_ == nullptr) co_return MethodNotAllowed("POST, DELETE");
  if (auto refusal = CheckOrigin(request, options_.origins)) co_return std::move(*refusal);
  std::string accept = request.HeaderList("accept");
  if (accept.empty() || !AcceptsEventStream(accept)) {
    co_return JsonRpcErrorResponse(406, "null", kHttpLayerError,
                                   "Not Acceptable: Accept must include text/event-stream");
  }
  if (auto version = request.Header("mcp-protocol-version");
      version && !IsSupportedProtocolVersion(*version)) {
    co_return JsonRpcErrorResponse(400, "null", kHttpLayerError,
                                   "Bad Request: unsupported MCP-Protocol-Version");
  }
  HttpResponse refusal;
  std::optional<SessionRecord> session = co_await SessionOfRequest(request, endpoint, &refusal);
  if (!session) co_return refusal;
  std::optional<std::string> resume;
  if (auto last = request.Header("last-event-id")) {
    if (auto request_event = ParseRequestEventId(*last)) {
      co_return co_await ResumeRequestStream(session->id, std::move(*request_event));
    }
    resume = ParseLastEventId(*last);
  }
  co_return co_await OpenEventStream(session->id, std::move(resume), std::string());
}

asio::awaitable<HttpResponse> EdgeService::ResumeRequestStream(const std::string& session_id,
                                                               RequestEventId from) {
  std::string stream_id = StrCat(session_id, "/r", from.token);
  absl::StatusOr<SessionListener> listener = co_await events_->Listen(stream_id);
  if (!listener.ok()) {
    co_return JsonRpcErrorResponse(503, "null", kHttpLayerError,
                                   "Service Unavailable: event store unreachable");
  }
  // Every request stream opens with a marker entry, so an empty one was never handed out here,
  // or has expired.
  absl::StatusOr<std::string> last = co_await events_->LastId(stream_id);
  if (!last.ok() || *last == "0-0") {
    events_->Unlisten(*listener);
    if (!last.ok()) {
      co_return JsonRpcErrorResponse(503, "null", kHttpLayerError,
                                     "Service Unavailable: event store unreachable");
    }
    co_return JsonRpcErrorResponse(400, "null", kHttpLayerError,
                                   "Bad Request: Last-Event-ID names no stream of this session");
  }
  // The stream's first entry names the replica serving the request (the resumption usually
  // starts after it).
  std::string owner, raw_id;
  auto head = co_await events_->ReadAfter(stream_id, "0-0", 1);
  if (head.ok() && !head->empty()) ParseRequestMarker(head->front().message, &owner, &raw_id);
  HttpResponse response;
  SetEventStreamHeaders(&response);
  auto stream = std::make_unique<SessionEventStream>(
      *events_, sessions_, std::move(*listener), std::move(from.entry), std::string(),
      options_.sse_keepalive, nullptr, std::move(from.token));
  stream->SetRequestOwner(std::move(owner), std::move(raw_id));
  response.stream = std::move(stream);
  co_return response;
}

asio::awaitable<HttpResponse> EdgeService::OpenEventStream(const std::string& session_id,
                                                           std::optional<std::string> resume,
                                                           std::string first) {
  absl::StatusOr<SessionListener> listener = co_await events_->Listen(session_id);
  if (!listener.ok()) {
    log::Warn("cannot listen for a session's events",
              {{"session", ShortId(session_id)}, {"error", MessageOf(listener.status())}});
    co_return JsonRpcErrorResponse(503, "null", kHttpLayerError,
                                   "Service Unavailable: event store unreachable");
  }
  // Subscribed first, then the cursor: an entry appended in between is read, not missed.
  std::string cursor;
  if (resume) {
    cursor = std::move(*resume);
  } else {
    absl::StatusOr<std::string> last = co_await events_->LastId(session_id);
    if (!last.ok()) {
      events_->Unlisten(*listener);
      co_return JsonRpcErrorResponse(503, "null", kHttpLayerError,
                                     "Service Unavailable: event store unreachable");
    }
    cursor = std::move(*last);
  }
  std::function<void()> on_end;
  if (first.empty()) {
    first = SsePrimingEvent(cursor, options_.sse_retry);
  } else {
    // A 2024-11-05 session is its SSE connection: when that ends, so does the session.
    // (GCC 12 miscompiles a co_await inside a lambda capture, hence the local.)
    asio::any_io_executor executor = co_await asio::this_coro::executor;
    on_end = [this, executor, session_id] {
      asio::co_spawn(executor, EndLegacySession(session_id), asio::detached);
    };
  }
  HttpResponse response;
  SetEventStreamHeaders(&response);
  response.stream = std::make_unique<SessionEventStream>(*events_, sessions_, std::move(*listener),
                                                         std::move(cursor), std::move(first),
                                                         options_.sse_keepalive, std::move(on_end));
  co_return response;
}

asio::awaitable<void> EdgeService::EndLegacySession(std::string session_id) {
  absl::StatusOr<bool> deleted = co_await sessions_.Delete(session_id);
  absl::Status ended = co_await events_->End(session_id);
  if (!deleted.ok() || !ended.ok()) {
    log::Warn("cannot end a legacy session", {{"session", ShortId(session_id)}});
    co_return;
  }
  log::Info("session ended", {{"session", ShortId(session_id)}, {"transport", "sse"}});
}

asio::awaitable<HttpResponse> EdgeService::LegacySse(const HttpRequest& request,
                                                     const std::string& endpoint) {
  if (auto refusal = CheckOrigin(request, options_.origins)) co_return std::move(*refusal);
  if (!AcceptsEventStream(request.HeaderList("accept"))) {
    co_return JsonRpcErrorResponse(406, "null", kHttpLayerError,
                                   "Not Acceptable: Accept must include text/event-stream");
  }
  AuthResult principal;
  if (auto refusal =
          co_await Authorize(request, endpoint, std::string(), std::string(), "null", &principal)) {
    co_return std::move(*refusal);
  }
  SessionRecord record;
  record.id = crypto::RandomHex(32);
  record.endpoint = endpoint;
  record.user_email = principal.user_email;
  record.api_key_id = principal.api_key_id;
  record.protocol_version = std::string(kLegacyVersion);
  record.created_unix = NowUnix();
  record.transport = "sse";
  absl::Status stored = co_await sessions_.Create(record);
  if (!stored.ok()) {
    log::Warn("cannot store a new session", {{"endpoint", endpoint}, {"error", MessageOf(stored)}});
    co_return JsonRpcErrorResponse(503, "null", kHttpLayerError,
                                   "Service Unavailable: cannot store the session");
  }
  // SDKs resolve the endpoint against the /sse URL and keep nothing else of it, so a key that
  // came in the query must ride along.
  std::string url = StrCat("/metamcp/", endpoint, "/message?sessionId=", record.id);
  Credential credential = ExtractCredential(request);
  if (credential.source == "query") {
    url.append(StrCat("&api_key=", PercentEncode(credential.value)));
  }
  log::Info("session created",
            {{"endpoint", endpoint}, {"session", ShortId(record.id)}, {"transport", "sse"}});
  co_return co_await OpenEventStream(record.id, std::nullopt, SseFrame("endpoint", "", url));
}

asio::awaitable<HttpResponse> EdgeService::LegacyMessage(const HttpRequest& request,
                                                         const std::string& endpoint) {
  std::variant<McpPost, HttpResponse> checked = ValidateLegacyPost(request, options_.origins);
  if (auto* refusal = std::get_if<HttpResponse>(&checked)) co_return std::move(*refusal);
  McpPost post = std::move(std::get<McpPost>(checked));
  const jsonrpc::Envelope& env = post.envelope;
  bool is_request = env.kind == jsonrpc::Kind::kRequest;
  std::string_view reply_id = is_request ? std::string_view(post.raw_id) : "null";
  std::string session_id = QueryParam(request.query, "sessionId").value_or("");

  AuthResult principal;
  if (auto refusal =
          co_await Authorize(request, endpoint, post.tool, session_id, reply_id, &principal)) {
    if (principal.decision == AuthResult::Decision::kRateLimited && is_request &&
        IsValidSessionId(session_id)) {
      HttpResponse too_many = std::move(*refusal);
      co_return co_await RefuseOnStream(std::move(too_many), session_id, endpoint, principal,
                                        post.raw_id);
    }
    co_return std::move(*refusal);
  }
  if (session_id.empty() || !IsValidSessionId(session_id)) {
    co_return JsonRpcErrorResponse(400, reply_id, kHttpLayerError,
                                   "Bad Request: the sessionId query parameter is required");
  }
  HttpResponse refusal;
  std::optional<SessionRecord> session =
      co_await FindSession(session_id, endpoint, principal, reply_id, &refusal);
  if (!session) co_return refusal;

  bool initialize = is_request && env.method == "initialize";
  std::string version = session->protocol_version;
  if (initialize && !post.requested_version.empty()) version = post.requested_version;
  RouterMessage message{endpoint,     session->id,          version,
                        request.body, principal.user_email, principal.api_key_id};
  message.trace = request.trace;
  if (!is_request) {
    router_.Send(std::move(message));
    co_return Accepted();
  }
  if (env.method == "ping") {
    absl::StatusOr<std::string> appended =
        co_await events_->Append(session->id, jsonrpc::MakeResult(post.raw_id, "{}"));
    if (!appended.ok()) {
      co_return JsonRpcErrorResponse(503, reply_id, kHttpLayerError,
                                     "Service Unavailable: event store unreachable");
    }
    co_return Accepted();
  }
  // The answer travels on the session's event stream, wherever that is held; the POST is done.
  asio::co_spawn(co_await asio::this_coro::executor,
                 Relay(std::move(*session), std::move(message), post.raw_id, initialize, post.tool),
                 [](std::exception_ptr e) {
                   if (!e) return;
                   try {
                     std::rethrow_exception(e);
                   } catch (const std::exception& ex) {
                     log::Error("relaying a legacy request failed", {{"error", ex.what()}});
                   }
                 });
  co_return Accepted();
}

asio::awaitable<HttpResponse> EdgeService::RefuseOnStream(HttpResponse refusal,
                                                          const std::string& session_id,
                                                          const std::string& endpoint,
                                                          const AuthResult& principal,
                                                          const std::string& raw_id) {
  HttpResponse not_found;
  std::optional<SessionRecord> session =
      co_await FindSession(session_id, endpoint, principal, raw_id, &not_found);
  if (!session) co_return not_found;
  // The client waits for the answer on its event stream, so that is where the refusal goes;
  // the POST itself is accepted, as every message of this transport is.
  int retry = std::max(1, principal.retry_after_seconds);
  std::string error = jsonrpc::MakeError(
      raw_id, kRateLimitedError,
      principal.reason.empty() ? "Too Many Requests" : StrCat("Too Many Requests: ", principal.reason),
      StrCat("{\"retryAfterSeconds\":", retry, "}"));
  absl::StatusOr<std::string> appended = co_await events_->Append(session->id, std::move(error));
  if (!appended.ok()) co_return refusal;
  HttpResponse accepted = Accepted();
  accepted.SetHeader("Retry-After", std::to_string(retry));
  co_return accepted;
}

asio::awaitable<void> EdgeService::Relay(SessionRecord session, RouterMessage message,
                                         std::string raw_id, bool initialize, std::string tool) {
  std::function<void(std::string_view)> on_final =
      AuditHook(options_.call_audit, message.user_email, message.endpoint, std::move(tool));
  std::unique_ptr<RouterCall> call = router_.Call(std::move(message));
  for (int n = 0; n < kMaxRelayedFrames; ++n) {
    RouterFrame frame = co_await NextFrame(*call, raw_id, options_.request_timeout);
    if (frame.final && initialize) {
      jsonrpc::Envelope env;
      jsonrpc::ScanError error;
      std::string version = session.protocol_version;
      if (jsonrpc::Scan(frame.message, &env, &error) && env.kind == jsonrpc::Kind::kResponse &&
          !env.result.empty()) {
        version = ChosenVersion(frame.message, env).value_or(session.protocol_version);
      }
      if (version != session.protocol_version) {
        session.protocol_version = std::move(version);
        absl::Status stored = co_await sessions_.Create(session);
        if (!stored.ok()) {
          log::Warn("cannot store a session's protocol version",
                    {{"session", ShortId(session.id)}, {"error", MessageOf(stored)}});
        }
      }
    }
    bool final = frame.final;
    if (final && on_final) on_final(frame.message);
    absl::StatusOr<std::string> appended =
        co_await events_->Append(session.id, std::move(frame.message));
    if (!appended.ok()) {
      log::Warn("cannot deliver a legacy answer",
                {{"session", ShortId(session.id)}, {"error", MessageOf(appended.status())}});
    }
    if (final) co_return;
  }
  call->Cancel();
}

asio::awaitable<HttpResponse> EdgeService::Delete(const HttpRequest& request,
                                                  const std::string& endpoint) {
  if (auto refusal = CheckOrigin(request, options_.origins)) co_return std::move(*refusal);
  HttpResponse refusal;
  std::optional<SessionRecord> session = co_await SessionOfRequest(request, endpoint, &refusal);
  if (!session) co_return refusal;
  const std::string& session_id = session->id;
  absl::StatusOr<bool> deleted = co_await sessions_.Delete(session_id);
  if (!deleted.ok()) {
    log::Warn("session store unavailable", {{"error", MessageOf(deleted.status())}});
    co_return JsonRpcErrorResponse(503, "null", kHttpLayerError,
                                   "Service Unavailable: session store unreachable");
  }
  if (!*deleted) {
    co_return JsonRpcErrorResponse(404, "null", kHttpLayerError, "Not Found: session not found");
  }
  if (events_ != nullptr) {
    absl::Status ended = co_await events_->End(session_id);
    if (!ended.ok()) {
      log::Warn("cannot close a session's event stream",
                {{"session", ShortId(session_id)}, {"error", MessageOf(ended)}});
    }
  }
  log::Info("session ended", {{"endpoint", endpoint}, {"session", ShortId(session_id)}});
  HttpResponse response;
  response.status = 204;
  co_return response;
}

asio::awaitable<HttpResponse> EdgeService::ResourceMetadataDocument(const std::string& endpoint) {
  absl::StatusOr<std::optional<ResourceMetadata>> metadata =
      co_await auth_.GetResourceMetadata(endpoint);
  if (!metadata.ok()) {
    log::Warn("auth unavailable", {{"endpoint", endpoint}, {"error", MessageOf(metadata.status())}});
    co_return JsonResponse(503, R"({"error":"authorization is unreachable"})");
  }
  if (!metadata->has_value()) co_return JsonResponse(404, R"({"error":"not found"})");
  const ResourceMetadata& m = **metadata;
  boost::json::object doc;
  doc["resource"] = m.resource;
  boost::json::array servers(m.authorization_servers.begin(), m.authorization_servers.end());
  doc["authorization_servers"] = std::move(servers);
  if (!m.scopes_supported.empty()) {
    doc["scopes_supported"] =
        boost::json::array(m.scopes_supported.begin(), m.scopes_supported.end());
  }
  doc["bearer_methods_supported"] = boost::json::array{"header"};
  HttpResponse response = JsonResponse(200, boost::json::serialize(doc));
  // Browser-based clients read it from other origins; it holds nothing secret.
  response.SetHeader("Access-Control-Allow-Origin", "*");
  response.SetHeader("Cache-Control", "max-age=300");
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
