// Two edge replicas (each its own HTTP server, EdgeService, fake router and Redis clients)
// sharing one real Redis: session event streams (GET /mcp), Last-Event-ID replay, DELETE, and
// the 2024-11-05 HTTP+SSE transport with its POSTs landing on the other replica.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <cstdlib>
#include <functional>
#include <thread>

#include "services/edge/src/edge_fakes.h"
#include "services/edge/src/edge_service.h"
#include "services/edge/src/edge_test_http.h"
#include "services/edge/src/http_server.h"
#include "services/edge/src/redis_session_store.h"
#include "services/edge/src/session_events.h"
#include "switchboard/redis/testing.h"

namespace switchboard::edge {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;
using testing_http::HeaderList;
using testing_http::kInitialize;
using testing_http::Reply;

constexpr std::chrono::seconds kWait{5};

struct Event {
  std::string event;
  std::string id;
  std::string data;
  bool has_retry = false;
};

// Parses complete SSE events out of a body (comments skipped).
std::vector<Event> ParseEvents(std::string_view body) {
  std::vector<Event> events;
  Event current;
  bool any = false;
  while (true) {
    size_t nl = body.find('\n');
    if (nl == std::string_view::npos) break;
    std::string_view line = body.substr(0, nl);
    body.remove_prefix(nl + 1);
    if (line.empty()) {
      if (any) events.push_back(current);
      current = Event();
      any = false;
      continue;
    }
    if (line[0] == ':') continue;
    size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
    any = true;
    if (field == "event") {
      current.event = std::string(value);
    } else if (field == "id") {
      current.id = std::string(value);
    } else if (field == "retry") {
      current.has_retry = true;
    } else if (field == "data") {
      if (!current.data.empty()) current.data.push_back('\n');
      current.data.append(value);
    }
  }
  return events;
}

// A client of one long-lived SSE response, read as it arrives.
class SseClient {
 public:
  SseClient(uint16_t port, std::string_view target, const HeaderList& headers,
            http::verb method = http::verb::get, std::string body = "")
      : stream_(io_) {
    stream_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
    http::request<http::string_body> request{method, target, 11};
    request.set(http::field::host, "127.0.0.1");
    for (const auto& [name, value] : headers) request.set(name, value);
    if (method != http::verb::get) {
      request.body() = std::move(body);
      request.prepare_payload();
    }
    http::write(stream_, request);
    parser_.body_limit(boost::none);
    stream_.expires_after(kWait);
    http::read_header(stream_, buffer_, parser_);
  }

  int status() const { return parser_.get().result_int(); }
  std::string Header(std::string_view name) const {
    auto it = parser_.get().find(name);
    return it == parser_.get().end() ? std::string() : std::string(it->value());
  }
  const std::string& body() const { return parser_.get().body(); }
  std::vector<Event> events() const { return ParseEvents(body()); }

  // Reads until at least `n` complete events arrived; false on timeout or the end of the stream.
  bool WaitForEvents(size_t n) {
    return ReadUntil([&] { return events().size() >= n; });
  }
  // Reads until the server ends the response; false on timeout.
  bool WaitForEnd(std::chrono::steady_clock::duration wait = kWait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
      if (parser_.is_done()) return true;
      stream_.expires_at(deadline);
      boost::system::error_code ec;
      http::read_some(stream_, buffer_, parser_, ec);
      if (ec) return ec != beast::error::timeout;
    }
    return parser_.is_done();
  }
  void Close() { stream_.socket().close(); }

 private:
  bool ReadUntil(const std::function<bool()>& done) {
    auto deadline = std::chrono::steady_clock::now() + kWait;
    while (!done()) {
      if (parser_.is_done() || std::chrono::steady_clock::now() >= deadline) return false;
      stream_.expires_at(deadline);
      boost::system::error_code ec;
      http::read_some(stream_, buffer_, parser_, ec);
      if (ec) return done();
    }
    return true;
  }

  asio::io_context io_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
};

// One edge replica: its own Redis clients, session store, event bus, router and server.
struct Replica {
  Replica(const redis::RedisEndpoint& endpoint, FakeAuthClient& auth) {
    pool = std::make_unique<IoContextPool>(2);
    redis = redis::RedisClient::Create(pool->At(0).get_executor(), endpoint);
    sessions = std::make_unique<RedisSessionStore>(redis, std::chrono::seconds(120));
    events = std::make_unique<SessionEvents>(redis, endpoint, pool->At(0).get_executor(),
                                             std::chrono::seconds(120), 100);
    events->StartHeartbeat(std::chrono::milliseconds(100));
    EdgeOptions options;
    options.request_timeout = std::chrono::seconds(5);
    options.sse_keepalive = std::chrono::milliseconds(200);
    options.sse_retry = std::chrono::milliseconds(1500);
    service =
        std::make_unique<EdgeService>(std::move(options), auth, router, *sessions, events.get());
    server = std::make_unique<HttpServer>(*pool, *service, HttpServerOptions{});
    absl::Status listening = server->Listen("127.0.0.1:0");
    EXPECT_TRUE(listening.ok()) << listening;
    server->Start();
    pool->Start();
  }

  ~Replica() {
    events->Close();
    server->Stop(std::chrono::seconds(2));
    redis->Close();
    pool->Stop();
  }

  uint16_t port() const { return server->port(); }

  // One Redis command on this replica's client, from the test thread.
  redis::Reply Command(std::vector<std::string> args) {
    return asio::co_spawn(
               pool->At(0),
               [&]() -> asio::awaitable<redis::Reply> {
                 auto [ec, reply] = co_await redis->AsyncCommand(
                     std::move(args), asio::as_tuple(asio::use_awaitable));
                 EXPECT_FALSE(ec) << ec.message();
                 co_return reply;
               }(),
               asio::use_future)
        .get();
  }

  FakeRouterClient router;
  std::unique_ptr<IoContextPool> pool;
  std::shared_ptr<redis::RedisClient> redis;
  std::unique_ptr<RedisSessionStore> sessions;
  std::unique_ptr<SessionEvents> events;
  std::unique_ptr<EdgeService> service;
  std::unique_ptr<HttpServer> server;
};

class EventStreamTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto found = redis::testing::TestRedisEndpoint();
    ASSERT_TRUE(found.ok()) << found.status();
    const redis::RedisEndpoint& endpoint = *found;
    a_ = std::make_unique<Replica>(endpoint, auth_);
    b_ = std::make_unique<Replica>(endpoint, auth_);
  }

  void TearDown() override {
    a_.reset();
    b_.reset();
  }

  static Reply Send(uint16_t port, http::verb method, std::string_view target,
                    const HeaderList& headers, std::string body = "") {
    return testing_http::Send(port, method, target, headers, std::move(body), kWait);
  }

  static HeaderList PostHeaders(const std::string& session = "",
                                const std::string& key = "good-key") {
    HeaderList h = {{"Content-Type", "application/json"},
                    {"Accept", "application/json, text/event-stream"},
                    {"X-API-Key", key}};
    if (!session.empty()) {
      h.emplace_back("Mcp-Session-Id", session);
      h.emplace_back("MCP-Protocol-Version", "2025-06-18");
    }
    return h;
  }

  static HeaderList GetHeaders(const std::string& session, const std::string& key = "good-key") {
    HeaderList h = {{"Accept", "text/event-stream"}, {"X-API-Key", key}};
    if (!session.empty()) h.emplace_back("Mcp-Session-Id", session);
    return h;
  }

  std::string OpenSession(Replica& replica) {
    Reply reply = Send(replica.port(), http::verb::post, "/metamcp/team/mcp", PostHeaders(),
                       std::string(kInitialize));
    EXPECT_EQ(reply.status, 200) << reply.body;
    std::string id = reply.Header("mcp-session-id");
    return id;
  }

  static std::string Notification(int n) {
    return R"({"jsonrpc":"2.0","method":"notifications/tools/list_changed","params":{"n":)" +
           std::to_string(n) + "}}";
  }

  FakeAuthClient auth_;
  std::unique_ptr<Replica> a_, b_;
};

TEST_F(EventStreamTest, GetStreamDeliversAMessagePublishedByAnotherReplica) {
  std::string session = OpenSession(*a_);
  ASSERT_FALSE(session.empty());
  SseClient get(a_->port(), "/metamcp/team/mcp", GetHeaders(session));
  ASSERT_EQ(get.status(), 200);
  EXPECT_EQ(get.Header("Content-Type"), "text/event-stream");
  EXPECT_EQ(get.Header("Cache-Control"), "no-cache");
  EXPECT_EQ(get.Header("X-Accel-Buffering"), "no");
  ASSERT_TRUE(get.WaitForEvents(1));
  Event priming = get.events()[0];
  EXPECT_EQ(priming.id, "0-0");
  EXPECT_TRUE(priming.has_retry);
  EXPECT_EQ(priming.data, "");
  EXPECT_THAT(get.body(), ::testing::HasSubstr("retry: 1500\n"));

  // The router hands the call_id 0 frame to replica B, which holds no stream for the session.
  b_->router.PushSessionMessage(session, Notification(1));
  ASSERT_TRUE(get.WaitForEvents(2)) << get.body();
  Event delivered = get.events()[1];
  EXPECT_EQ(delivered.event, "message");
  EXPECT_EQ(delivered.data, Notification(1));
  EXPECT_THAT(delivered.id, ::testing::MatchesRegex("[0-9]+-[0-9]+"));
  EXPECT_EQ(b_->events->listeners(), 0u);
  EXPECT_EQ(a_->events->listeners(), 1u);

  // Quiet streams carry keep-alive comments.
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  a_->router.PushSessionMessage(session, Notification(2));
  ASSERT_TRUE(get.WaitForEvents(3));
  EXPECT_THAT(get.body(), ::testing::HasSubstr("\n:\n\n"));
  EXPECT_EQ(get.events()[2].data, Notification(2));
  get.Close();
}

TEST_F(EventStreamTest, GetRefusals) {
  std::string session = OpenSession(*a_);
  ASSERT_FALSE(session.empty());
  HeaderList no_accept = {{"X-API-Key", "good-key"}, {"Mcp-Session-Id", session}};
  EXPECT_EQ(Send(a_->port(), http::verb::get, "/metamcp/team/mcp", no_accept).status, 406);
  HeaderList json_only = GetHeaders(session);
  json_only[0].second = "application/json";
  EXPECT_EQ(Send(a_->port(), http::verb::get, "/metamcp/team/mcp", json_only).status, 406);
  EXPECT_EQ(Send(a_->port(), http::verb::get, "/metamcp/team/mcp", GetHeaders("")).status, 400);
  EXPECT_EQ(Send(a_->port(), http::verb::get, "/metamcp/team/mcp", GetHeaders("feedbeef")).status,
            404);
  EXPECT_EQ(Send(b_->port(), http::verb::get, "/metamcp/team/mcp", GetHeaders(session, "other-key"))
                .status,
            404);
  EXPECT_EQ(
      Send(b_->port(), http::verb::get, "/metamcp/team/mcp", GetHeaders(session, "nope")).status,
      401);
  Reply put = Send(a_->port(), http::verb::put, "/metamcp/team/mcp", GetHeaders(session));
  EXPECT_EQ(put.status, 405);
  EXPECT_EQ(put.Header("allow"), "GET, POST, DELETE");
}

TEST_F(EventStreamTest, LastEventIdReplaysOnAnotherReplicaThenContinuesLive) {
  std::string session = OpenSession(*a_);
  ASSERT_FALSE(session.empty());
  std::string first_id;
  {
    SseClient get(a_->port(), "/metamcp/team/mcp", GetHeaders(session));
    ASSERT_EQ(get.status(), 200);
    ASSERT_TRUE(get.WaitForEvents(1));
    b_->router.PushSessionMessage(session, Notification(1));
    b_->router.PushSessionMessage(session, Notification(2));
    ASSERT_TRUE(get.WaitForEvents(3));
    first_id = get.events()[1].id;
    EXPECT_EQ(get.events()[2].data, Notification(2));
    get.Close();  // the connection is cut
  }
  a_->router.PushSessionMessage(session, Notification(3));  // while nobody listens

  HeaderList resume = GetHeaders(session);
  resume.emplace_back("Last-Event-ID", first_id);
  SseClient again(b_->port(), "/metamcp/team/mcp", resume);
  ASSERT_EQ(again.status(), 200);
  ASSERT_TRUE(again.WaitForEvents(3)) << again.body();
  std::vector<Event> events = again.events();
  EXPECT_EQ(events[0].id, first_id);  // priming: resume from where the client was
  EXPECT_EQ(events[1].data, Notification(2));
  EXPECT_EQ(events[2].data, Notification(3));
  EXPECT_LT(events[1].id, events[2].id);
  a_->router.PushSessionMessage(session, Notification(4));
  ASSERT_TRUE(again.WaitForEvents(4));
  EXPECT_EQ(again.events()[3].data, Notification(4));
  again.Close();
}

TEST_F(EventStreamTest, ACutRequestStreamResumesOnAnotherReplica) {
  std::string session = OpenSession(*a_);
  ASSERT_FALSE(session.empty());
  size_t call = a_->router.calls().size();  // the index the POST's call will have
  const std::string progress2 = jsonrpc::MakeNotification(
      "notifications/progress", R"({"progressToken":1,"progress":2})");
  const std::string result = jsonrpc::MakeResult("9", R"({"content":[]})");
  std::string cut_at;
  {
    SseClient post(a_->port(), "/metamcp/team/mcp", PostHeaders(session), http::verb::post,
                   R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"stall"}})");
    ASSERT_EQ(post.status(), 200);
    EXPECT_EQ(post.Header("Content-Type"), "text/event-stream");
    ASSERT_TRUE(post.WaitForEvents(2)) << post.body();
    std::vector<Event> events = post.events();
    EXPECT_EQ(events[0].data, "");  // priming: resumable from the start
    EXPECT_TRUE(events[0].has_retry);
    EXPECT_THAT(events[0].id, ::testing::MatchesRegex("[0-9a-f]{16}/[0-9]+-[0-9]+"));
    EXPECT_THAT(events[1].data, ::testing::HasSubstr(R"("progress":1)"));
    cut_at = events[1].id;
    EXPECT_EQ(cut_at.substr(0, 17), events[0].id.substr(0, 17));
    post.Close();  // the connection is cut before the result
  }
  // The call goes on without the client; what it sends is kept for the resumption.
  a_->router.PushFrame(call, progress2, false);
  a_->router.PushFrame(call, result, true);

  HeaderList resume = GetHeaders(session);
  resume.emplace_back("Last-Event-ID", cut_at);
  SseClient again(b_->port(), "/metamcp/team/mcp", resume);
  ASSERT_EQ(again.status(), 200);
  ASSERT_TRUE(again.WaitForEnd()) << again.body();  // the response ends the resumed stream
  std::vector<Event> events = again.events();
  ASSERT_EQ(events.size(), 2u) << again.body();
  EXPECT_EQ(events[0].data, progress2);
  EXPECT_EQ(events[1].data, result);
  EXPECT_EQ(events[1].id.substr(0, 17), cut_at.substr(0, 17));
  EXPECT_TRUE(a_->router.cancelled().empty());  // never cancelled: the answer was wanted

  // Resuming once more from the same point replays the same answer, on either replica.
  SseClient twice(a_->port(), "/metamcp/team/mcp", resume);
  ASSERT_TRUE(twice.WaitForEnd());
  EXPECT_EQ(twice.events().size(), 2u);

  // A request stream this session never had is refused; so is another user's.
  HeaderList unknown = GetHeaders(session);
  unknown.emplace_back("Last-Event-ID", "0123456789abcdef/1-0");
  EXPECT_EQ(Send(b_->port(), http::verb::get, "/metamcp/team/mcp", unknown).status, 400);
  HeaderList other = GetHeaders(session, "other-key");
  other.emplace_back("Last-Event-ID", cut_at);
  EXPECT_EQ(Send(b_->port(), http::verb::get, "/metamcp/team/mcp", other).status, 404);
}

TEST_F(EventStreamTest, ResumingARequestWhoseReplicaStoppedEndsWithAnError) {
  std::string session = OpenSession(*a_);
  ASSERT_FALSE(session.empty());
  std::string cut_at;
  {
    SseClient post(a_->port(), "/metamcp/team/mcp", PostHeaders(session), http::verb::post,
                   R"({"jsonrpc":"2.0","id":"q7","method":"tools/call","params":{"name":"stall"}})");
    ASSERT_EQ(post.status(), 200);
    ASSERT_TRUE(post.WaitForEvents(2)) << post.body();
    cut_at = post.events()[1].id;
    post.Close();
  }
  // While replica a lives, a resumed stream waits for the answer (keep-alives only).
  HeaderList resume = GetHeaders(session);
  resume.emplace_back("Last-Event-ID", cut_at);
  {
    SseClient waiting(b_->port(), "/metamcp/team/mcp", resume);
    ASSERT_EQ(waiting.status(), 200);
    EXPECT_FALSE(waiting.WaitForEnd(std::chrono::milliseconds(600)));
    EXPECT_TRUE(waiting.events().empty()) << waiting.body();
  }
  // Replica a stops serving (its liveness key goes): the resumed stream is told at once that
  // no answer will come, under the request's id, and ends.
  a_->events->Close();
  SseClient again(b_->port(), "/metamcp/team/mcp", resume);
  ASSERT_EQ(again.status(), 200);
  ASSERT_TRUE(again.WaitForEnd()) << again.body();
  std::vector<Event> events = again.events();
  ASSERT_EQ(events.size(), 1u) << again.body();
  EXPECT_THAT(events[0].data, ::testing::HasSubstr(R"("id":"q7")"));
  EXPECT_THAT(events[0].data, ::testing::HasSubstr(R"("code":-32001)"));
  EXPECT_THAT(events[0].data, ::testing::HasSubstr("stopped before it was answered"));
}

TEST_F(EventStreamTest, ASecondGetStreamReplacesTheFirst) {
  std::string session = OpenSession(*a_);
  ASSERT_FALSE(session.empty());
  SseClient first(a_->port(), "/metamcp/team/mcp", GetHeaders(session));
  ASSERT_TRUE(first.WaitForEvents(1));
  SseClient second(b_->port(), "/metamcp/team/mcp", GetHeaders(session));
  ASSERT_EQ(second.status(), 200);
  ASSERT_TRUE(second.WaitForEvents(1));
  EXPECT_TRUE(first.WaitForEnd());
  a_->router.PushSessionMessage(session, Notification(1));
  ASSERT_TRUE(second.WaitForEvents(2));
  EXPECT_EQ(second.events()[1].data, Notification(1));
  second.Close();
}

TEST_F(EventStreamTest, DeleteOnAnotherReplicaClosesTheGetStream) {
  std::string session = OpenSession(*a_);
  ASSERT_FALSE(session.empty());
  SseClient get(a_->port(), "/metamcp/team/mcp", GetHeaders(session));
  ASSERT_TRUE(get.WaitForEvents(1));
  b_->router.PushSessionMessage(session, Notification(1));
  ASSERT_TRUE(get.WaitForEvents(2));
  Reply deleted = Send(b_->port(), http::verb::delete_, "/metamcp/team/mcp", PostHeaders(session));
  EXPECT_EQ(deleted.status, 204);
  EXPECT_TRUE(get.WaitForEnd());
  EXPECT_EQ(Send(a_->port(), http::verb::get, "/metamcp/team/mcp", GetHeaders(session)).status,
            404);
  // The stream is gone with the session: nothing is left to replay.
  HeaderList resume = GetHeaders(session);
  resume.emplace_back("Last-Event-ID", "0-0");
  EXPECT_EQ(Send(b_->port(), http::verb::get, "/metamcp/team/mcp", resume).status, 404);
}

TEST_F(EventStreamTest, AnOpenStreamRenewsItsSessionAndEndsWhenTheSessionIsGone) {
  std::string session = OpenSession(*a_);
  ASSERT_FALSE(session.empty());
  SseClient get(a_->port(), "/metamcp/team/mcp", GetHeaders(session));
  ASSERT_TRUE(get.WaitForEvents(1));
  std::string key = RedisSessionStore::Key(session);
  // Shorten the record's life: keep-alives (every 200 ms here) must renew it.
  a_->Command({"EXPIRE", key, "2"});
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_GT(a_->Command({"TTL", key}).integer, 100);
  // The record vanishes without a close signal (as when pub/sub was reconnecting).
  a_->Command({"DEL", key});
  EXPECT_TRUE(get.WaitForEnd());
}

TEST_F(EventStreamTest, LegacySseRoundTripWithPostsOnAnotherReplica) {
  SseClient sse(a_->port(), "/metamcp/team/sse",
                {{"Accept", "text/event-stream"}, {"X-API-Key", "good-key"}});
  ASSERT_EQ(sse.status(), 200);
  EXPECT_EQ(sse.Header("Content-Type"), "text/event-stream");
  ASSERT_TRUE(sse.WaitForEvents(1));
  Event endpoint = sse.events()[0];
  EXPECT_EQ(endpoint.event, "endpoint");
  ASSERT_THAT(endpoint.data,
              ::testing::MatchesRegex("/metamcp/team/message\\?sessionId=[0-9a-f]{64}"));
  std::string session = endpoint.data.substr(endpoint.data.find('=') + 1);

  HeaderList post = {{"Content-Type", "application/json"}, {"X-API-Key", "good-key"}};
  std::string init =
      R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2024-11-05",)"
      R"("capabilities":{},"clientInfo":{"name":"legacy","version":"1"}}})";
  Reply accepted = Send(b_->port(), http::verb::post, endpoint.data, post, init);
  EXPECT_EQ(accepted.status, 202);
  EXPECT_TRUE(accepted.body.empty());
  ASSERT_TRUE(sse.WaitForEvents(2)) << sse.body();
  Event answer = sse.events()[1];
  EXPECT_EQ(answer.event, "message");
  json::object result = json::parse(answer.data).as_object();
  EXPECT_EQ(result.at("id").as_int64(), 0);
  EXPECT_EQ(result.at("result").at("protocolVersion").as_string(), "2025-06-18");
  auto calls = b_->router.calls();
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].session_id, session);
  EXPECT_EQ(calls[0].protocol_version, "2024-11-05");
  EXPECT_EQ(calls[0].user_email, "ada@example.com");

  EXPECT_EQ(Send(b_->port(), http::verb::post, endpoint.data, post,
                 R"({"jsonrpc":"2.0","method":"notifications/initialized"})")
                .status,
            202);
  ASSERT_TRUE(b_->router.WaitFor([&] { return b_->router.sent().size() == 1; }));
  EXPECT_EQ(b_->router.sent()[0].session_id, session);

  std::string call =
      R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"progress"}})";
  EXPECT_EQ(Send(b_->port(), http::verb::post, endpoint.data, post, call).status, 202);
  ASSERT_TRUE(sse.WaitForEvents(5)) << sse.body();
  std::vector<Event> events = sse.events();
  EXPECT_EQ(json::parse(events[2].data).at("method").as_string(), "notifications/progress");
  EXPECT_EQ(json::parse(events[4].data).at("id").as_int64(), 7);
  // The protocol version the router chose at initialize is the session's from then on.
  calls = b_->router.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].protocol_version, "2025-06-18");

  EXPECT_EQ(Send(a_->port(), http::verb::post, endpoint.data, post,
                 R"({"jsonrpc":"2.0","id":"p","method":"ping"})")
                .status,
            202);
  ASSERT_TRUE(sse.WaitForEvents(6));
  EXPECT_EQ(sse.events()[5].data, R"({"jsonrpc":"2.0","id":"p","result":{}})");
  sse.Close();
}

TEST_F(EventStreamTest, ALegacyRequestOverARateLimitIsRefusedOnItsEventStream) {
  SseClient sse(a_->port(), "/metamcp/team/sse",
                {{"Accept", "text/event-stream"}, {"X-API-Key", "good-key"}});
  ASSERT_EQ(sse.status(), 200);
  ASSERT_TRUE(sse.WaitForEvents(1));
  std::string url = sse.events()[0].data;
  const std::string limited = R"(sb_edge_rate_limited_total{endpoint="team"})";
  double before = testing_http::Sample(Send(b_->port(), http::verb::get, "/metrics", {}).body,
                                       limited);

  HeaderList post = {{"Content-Type", "application/json"}, {"X-API-Key", "good-key"}};
  Reply refused = Send(b_->port(), http::verb::post, url, post,
                       R"({"jsonrpc":"2.0","id":9,"method":"tools/call",)"
                       R"("params":{"name":"rate-limited"}})");
  // The POST is accepted like every message of this transport; the refusal is the answer.
  EXPECT_EQ(refused.status, 202);
  EXPECT_EQ(refused.Header("retry-after"), "3");
  ASSERT_TRUE(sse.WaitForEvents(2)) << sse.body();
  json::object error = json::parse(sse.events()[1].data).as_object();
  EXPECT_EQ(error.at("id").as_int64(), 9);
  EXPECT_EQ(error.at("error").at("code").as_int64(), kRateLimitedError);
  EXPECT_EQ(error.at("error").at("message").as_string(), "Too Many Requests: tool call limit");
  EXPECT_EQ(error.at("error").at("data").at("retryAfterSeconds").as_int64(), 3);
  EXPECT_TRUE(b_->router.calls().empty());
  double after = testing_http::Sample(Send(b_->port(), http::verb::get, "/metrics", {}).body,
                                      limited);
  EXPECT_EQ(after - before, 1);
  sse.Close();
}

TEST_F(EventStreamTest, LegacyRefusalsAndQueryKeyCarriedInTheEndpoint) {
  SseClient sse(a_->port(), "/metamcp/team/sse?api_key=good-key",
                {{"Accept", "text/event-stream"}});
  ASSERT_EQ(sse.status(), 200);
  ASSERT_TRUE(sse.WaitForEvents(1));
  std::string url = sse.events()[0].data;
  EXPECT_THAT(url, ::testing::MatchesRegex(
                       "/metamcp/team/message\\?sessionId=[0-9a-f]{64}&api_key=good-key"));
  HeaderList post = {{"Content-Type", "application/json"}};
  std::string ping = R"({"jsonrpc":"2.0","id":1,"method":"ping"})";
  EXPECT_EQ(Send(b_->port(), http::verb::post, url, post, ping).status, 202);
  EXPECT_EQ(Send(b_->port(), http::verb::post, "/metamcp/team/message?api_key=good-key", post, ping)
                .status,
            400);
  EXPECT_EQ(Send(b_->port(), http::verb::post,
                 "/metamcp/team/message?sessionId=feed&api_key=good-key", post, ping)
                .status,
            404);
  EXPECT_EQ(Send(b_->port(), http::verb::get, url, {}).status, 405);
  EXPECT_EQ(
      Send(a_->port(), http::verb::get, "/metamcp/team/sse", {{"Accept", "text/html"}}).status,
      406);
  EXPECT_EQ(Send(a_->port(), http::verb::get, "/metamcp/team/sse", {}).status, 401);

  // A 2024-11-05 session is its SSE connection: closing it ends the session.
  sse.Close();
  int status = 0;
  for (int i = 0; i < 100 && status != 404; ++i) {
    status = Send(b_->port(), http::verb::post, url, post, ping).status;
    if (status != 404) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(status, 404);
}

}  // namespace
}  // namespace switchboard::edge
