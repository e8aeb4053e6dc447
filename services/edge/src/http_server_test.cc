// Runs the real Beast server and EdgeService on 127.0.0.1 with fake auth, router and session
// store, and talks HTTP to it.

#include "services/edge/src/http_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <map>
#include <sstream>
#include <thread>

#include "services/edge/src/edge_fakes.h"
#include "services/edge/src/edge_service.h"
#include "services/edge/src/edge_test_http.h"
#include "switchboard/common/log.h"
#include "switchboard/telemetry/metrics.h"
#include "switchboard/telemetry/tracer.h"

namespace switchboard::edge {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;

constexpr size_t kBodyLimit = 64 * 1024;
using testing_http::HeaderList;
using testing_http::kInitialize;
using testing_http::MakeRequest;
using testing_http::Reply;

class EdgeHttpTest : public ::testing::Test {
 protected:
  void SetUp() override { StartServer(std::chrono::milliseconds(500)); }

  void TearDown() override { StopServer(); }

  void StartServer(std::chrono::milliseconds request_timeout) {
    EdgeOptions options;
    options.request_timeout = request_timeout;
    options.config_synced = [this] { return config_synced_.load(); };
    options.auth_answers = auth_answers_;
    service_ = std::make_unique<EdgeService>(std::move(options), auth_, router_, sessions_);
    pool_ = std::make_unique<IoContextPool>(2);
    HttpServerOptions server_options;
    server_options.max_body_bytes = kBodyLimit;
    server_ = std::make_unique<HttpServer>(*pool_, *service_, server_options);
    absl::Status listening = server_->Listen("127.0.0.1:0");
    ASSERT_TRUE(listening.ok()) << listening;
    server_->Start();
    pool_->Start();
  }

  void StopServer() {
    server_->Stop(std::chrono::seconds(2));
    pool_->Stop();
    server_.reset();
    pool_.reset();
    service_.reset();
  }

  tcp::endpoint Endpoint() const {
    return tcp::endpoint(asio::ip::make_address("127.0.0.1"), server_->port());
  }

  static Reply Read(beast::tcp_stream& stream, beast::flat_buffer& buffer) {
    return testing_http::ReadReply(stream, buffer);
  }

  Reply Send(http::verb method, std::string_view target, const HeaderList& headers = {},
             std::string body = "") {
    return testing_http::Send(server_->port(), method, target, headers, std::move(body));
  }

  static HeaderList McpHeaders(const HeaderList& extra = {}) {
    HeaderList headers = {{"Content-Type", "application/json"},
                          {"Accept", "application/json, text/event-stream"},
                          {"X-API-Key", "good-key"}};
    for (const auto& [name, value] : extra) {
      bool replaced = false;
      for (auto& h : headers) {
        if (EqualsIgnoreCase(h.first, name)) {
          h.second = value;
          replaced = true;
        }
      }
      if (!replaced) headers.emplace_back(name, value);
    }
    return headers;
  }

  Reply Post(std::string_view body, const HeaderList& extra = {},
             std::string_view endpoint = "team") {
    return Send(http::verb::post, "/metamcp/" + std::string(endpoint) + "/mcp", McpHeaders(extra),
                std::string(body));
  }

  // Initializes and returns the new session id.
  std::string OpenSession(const HeaderList& extra = {}, std::string_view endpoint = "team") {
    Reply reply = Post(kInitialize, extra, endpoint);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.Header("mcp-session-id");
  }

  static HeaderList WithSession(const std::string& id, HeaderList extra = {}) {
    extra.emplace_back("Mcp-Session-Id", id);
    extra.emplace_back("MCP-Protocol-Version", "2025-06-18");
    return extra;
  }

  // SSE events' data fields, one string per event.
  static std::vector<std::string> EventData(std::string_view body) {
    std::vector<std::string> events;
    std::string current;
    bool in_event = false;
    while (!body.empty()) {
      size_t nl = body.find('\n');
      std::string_view line = body.substr(0, nl);
      body.remove_prefix(nl == std::string_view::npos ? body.size() : nl + 1);
      if (line.empty()) {
        if (in_event) events.push_back(current);
        current.clear();
        in_event = false;
      } else if (line.substr(0, 6) == "data: ") {
        if (in_event && !current.empty()) current.push_back('\n');
        current.append(line.substr(6));
        in_event = true;
      }
    }
    return events;
  }

  FakeAuthClient auth_;
  FakeRouterClient router_;
  FakeSessionStore sessions_;
  std::atomic<bool> config_synced_{true};
  AuthAnswers answers_;
  AuthAnswers* auth_answers_ = nullptr;  // &answers_ to reuse auth's answers; before StartServer
  std::unique_ptr<EdgeService> service_;
  std::unique_ptr<IoContextPool> pool_;
  std::unique_ptr<HttpServer> server_;
};

TEST_F(EdgeHttpTest, MissingKeyIs401WithBearerChallenge) {
  Reply reply = Post(kInitialize, {{"X-API-Key", ""}});
  EXPECT_EQ(reply.status, 401);
  EXPECT_EQ(reply.Header("www-authenticate"), R"(Bearer realm="switchboard")");
  EXPECT_EQ(reply.Json().at("id").as_int64(), 1);
  EXPECT_EQ(reply.Json().at("jsonrpc").as_string(), "2.0");
  EXPECT_TRUE(router_.calls().empty());
}

TEST_F(EdgeHttpTest, CredentialTravelsToAuthFromEitherHeader) {
  EXPECT_EQ(Post(kInitialize, {{"X-API-Key", ""}, {"Authorization", "Bearer good-key"}}).status,
            200);
  EXPECT_EQ(Post(kInitialize).status, 200);
  auto queries = auth_.queries();
  ASSERT_EQ(queries.size(), 2u);
  EXPECT_EQ(queries[0].credential_source, "authorization");
  EXPECT_EQ(queries[1].credential_source, "x-api-key");
  EXPECT_EQ(queries[1].credential, "good-key");
  EXPECT_EQ(queries[1].endpoint, "team");
  EXPECT_EQ(queries[1].remote_address, "127.0.0.1");
}

// The value of sb_edge_auth_reused_total{endpoint} (0 before its first increment).
double AuthReused(const std::string& endpoint) {
  std::istringstream text(telemetry::SerializeMetrics());
  std::string line;
  while (std::getline(text, line)) {
    if (line.rfind("sb_edge_auth_reused_total{", 0) == 0 &&
        line.find("endpoint=\"" + endpoint + "\"") != std::string::npos) {
      return std::stod(line.substr(line.rfind(' ') + 1));
    }
  }
  return 0;
}

TEST_F(EdgeHttpTest, AReusableAllowIsGivenAgainUntilTheConfigurationChanges) {
  answers_.SetRevision(3);
  auth_.reuse = std::chrono::milliseconds(60000);
  auth_.config_revision = 3;
  StopServer();
  auth_answers_ = &answers_;
  StartServer(std::chrono::milliseconds(500));
  double reused_before = AuthReused("team");

  EXPECT_EQ(Post(kInitialize).status, 200);
  EXPECT_EQ(Post(kInitialize).status, 200);
  EXPECT_EQ(auth_.queries().size(), 1u);  // the second was let in on the first's answer
  EXPECT_EQ(AuthReused("team"), reused_before + 1);

  // Another credential is another question.
  EXPECT_EQ(Post(kInitialize, {{"X-API-Key", "other-key"}}).status, 200);
  EXPECT_EQ(auth_.queries().size(), 2u);
  // Refusals are never given again.
  EXPECT_EQ(Post(kInitialize, {{"X-API-Key", "forbidden-key"}}).status, 403);
  EXPECT_EQ(Post(kInitialize, {{"X-API-Key", "forbidden-key"}}).status, 403);
  EXPECT_EQ(auth_.queries().size(), 4u);

  // The edge's configuration moves on (a key revoked, say): auth is asked again, and its answer
  // from the old revision is not kept.
  answers_.SetRevision(4);
  EXPECT_EQ(Post(kInitialize).status, 200);
  EXPECT_EQ(Post(kInitialize).status, 200);
  EXPECT_EQ(auth_.queries().size(), 6u);
  // Once auth decides under the new revision too, its answers are reused again.
  auth_.config_revision = 4;
  EXPECT_EQ(Post(kInitialize).status, 200);
  auth_.keys.erase("good-key");  // auth would now refuse, but the configuration says nothing yet
  EXPECT_EQ(Post(kInitialize).status, 200);
  EXPECT_EQ(auth_.queries().size(), 7u);
  answers_.SetRevision(5);  // it does now
  EXPECT_EQ(Post(kInitialize).status, 401);
  EXPECT_EQ(auth_.queries().size(), 8u);
}

TEST_F(EdgeHttpTest, UnknownEndpointIs404) {
  Reply reply = Post(kInitialize, {}, "nosuch");
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.Json().at("id").as_int64(), 1);
}

TEST_F(EdgeHttpTest, AuthDecisionsMapToStatuses) {
  Reply forbidden = Post(kInitialize, {{"X-API-Key", "forbidden-key"}});
  EXPECT_EQ(forbidden.status, 403);
  EXPECT_THAT(std::string(forbidden.Json().at("error").at("message").as_string()),
              ::testing::HasSubstr("key disabled"));
  Reply limited = Post(kInitialize, {{"X-API-Key", "limited-key"}});
  EXPECT_EQ(limited.status, 429);
  EXPECT_EQ(limited.Header("retry-after"), "7");
  auth_.unavailable = true;
  Reply down = Post(kInitialize);
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(down.Json().at("id").as_int64(), 1);
}

TEST_F(EdgeHttpTest, ParseErrorIs400WithJsonRpcParseError) {
  Reply reply = Post(R"({"jsonrpc":"2.0","id":3,"method":)");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.Header("content-type"), "application/json");
  EXPECT_EQ(reply.ErrorCode(), -32700);
  EXPECT_TRUE(reply.Json().at("id").is_null());
}

TEST_F(EdgeHttpTest, NotJsonRpcIs400WithInvalidRequestEchoingTheId) {
  Reply reply = Post(R"({"jsonrpc":"2.0","id":7})");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.ErrorCode(), -32600);
  EXPECT_EQ(reply.Json().at("id").as_int64(), 7);
  Reply batch = Post(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])");
  EXPECT_EQ(batch.status, 400);
  EXPECT_EQ(batch.ErrorCode(), -32600);
}

TEST_F(EdgeHttpTest, AcceptWithoutEventStreamIs406) {
  EXPECT_EQ(Post(kInitialize, {{"Accept", "application/json"}}).status, 406);
  EXPECT_EQ(Post(kInitialize, {{"Accept", "*/*"}}).status, 200);
}

TEST_F(EdgeHttpTest, WrongContentTypeIs415) {
  Reply reply = Post(kInitialize, {{"Content-Type", "text/plain"}});
  EXPECT_EQ(reply.status, 415);
  EXPECT_EQ(reply.Json().at("jsonrpc").as_string(), "2.0");
}

TEST_F(EdgeHttpTest, OversizeBodyIs413WithJsonBody) {
  Reply just_over = Post(std::string(kBodyLimit + 1, ' '));
  EXPECT_EQ(just_over.status, 413);
  // A client still sending a large body gets the answer too (the server drains before closing).
  std::string big(2 * 1024 * 1024, ' ');
  Reply reply = Post(big);
  EXPECT_EQ(reply.status, 413);
  EXPECT_EQ(reply.Header("content-type"), "application/json");
  EXPECT_TRUE(reply.Json().contains("error"));

  // Without a Content-Length the limit is met while reading the chunked body.
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(Endpoint());
  auto request = MakeRequest(http::verb::post, "/metamcp/team/mcp", McpHeaders(), big + big);
  request.chunked(true);
  http::write(stream, request);
  beast::flat_buffer buffer;
  EXPECT_EQ(Read(stream, buffer).status, 413);
}

TEST_F(EdgeHttpTest, ForeignOriginIs403AndLoopbackOriginPasses) {
  Reply refused = Post(kInitialize, {{"Origin", "https://evil.example"}});
  EXPECT_EQ(refused.status, 403);
  EXPECT_TRUE(router_.calls().empty());
  EXPECT_EQ(Post(kInitialize, {{"Origin", "http://localhost:5173"}}).status, 200);
}

TEST_F(EdgeHttpTest, UnsupportedProtocolVersionIs400) {
  Reply reply = Post(kInitialize, {{"MCP-Protocol-Version", "1999-01-01"}});
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.Json().at("id").as_int64(), 1);
}

TEST_F(EdgeHttpTest, InitializeMintsASessionStoredWithItsPrincipal) {
  Reply reply = Post(kInitialize);
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.Header("content-type"), "application/json");
  EXPECT_EQ(reply.Json().at("result").at("protocolVersion").as_string(), "2025-06-18");
  std::string id = reply.Header("mcp-session-id");
  ASSERT_EQ(id.size(), 64u);
  for (char c : id) EXPECT_TRUE(c >= 0x21 && c <= 0x7e);
  EXPECT_NE(OpenSession(), id);

  auto stored = sessions_.sessions();
  ASSERT_TRUE(stored.count(id));
  EXPECT_EQ(stored[id].endpoint, "team");
  EXPECT_EQ(stored[id].user_email, "ada@example.com");
  EXPECT_EQ(stored[id].api_key_id, "id-good-key");
  EXPECT_EQ(stored[id].protocol_version, "2025-06-18");
  EXPECT_GT(stored[id].created_unix, 0);

  auto calls = router_.calls();
  ASSERT_FALSE(calls.empty());
  EXPECT_EQ(calls[0].session_id, "");
  EXPECT_EQ(calls[0].endpoint, "team");
  EXPECT_EQ(calls[0].user_email, "ada@example.com");
  EXPECT_EQ(calls[0].message, kInitialize);
}

TEST_F(EdgeHttpTest, FailedInitializeMintsNoSession) {
  router_.script = [](const RouterMessage&) {
    return std::vector<RouterFrame>{
        {jsonrpc::MakeError("1", jsonrpc::kInvalidParams, "unsupported"), true}};
  };
  Reply reply = Post(kInitialize);
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.Header("mcp-session-id"), "");
  EXPECT_TRUE(sessions_.sessions().empty());
}

TEST_F(EdgeHttpTest, RequestWithoutSessionIs400) {
  Reply reply = Post(R"({"jsonrpc":"2.0","id":"a","method":"tools/list"})");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.Json().at("id").as_string(), "a");
  EXPECT_TRUE(router_.calls().empty());
}

TEST_F(EdgeHttpTest, UnknownSessionIs404) {
  Reply reply =
      Post(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", WithSession("0123456789abcdef"));
  EXPECT_EQ(reply.status, 404);
  EXPECT_EQ(reply.Json().at("id").as_int64(), 2);
}

TEST_F(EdgeHttpTest, SessionOfAnotherEndpointOrUserIs404) {
  std::string id = OpenSession();
  auth_.endpoints["other"] = true;
  Reply elsewhere =
      Post(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", WithSession(id), "other");
  EXPECT_EQ(elsewhere.status, 404);
  Reply stranger = Post(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})",
                        WithSession(id, {{"X-API-Key", "other-key"}}));
  EXPECT_EQ(stranger.status, 404);
}

TEST_F(EdgeHttpTest, RequestInSessionIsForwardedAndAnsweredAsJson) {
  std::string id = OpenSession();
  std::string body = R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo"}})";
  Reply reply = Post(body, WithSession(id));
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.Header("content-type"), "application/json");
  EXPECT_TRUE(reply.Json().at("result").at("ok").as_bool());
  auto calls = router_.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(calls[1].session_id, id);
  EXPECT_EQ(calls[1].protocol_version, "2025-06-18");
  EXPECT_EQ(calls[1].message, body);
  auto queries = auth_.queries();
  EXPECT_EQ(queries.back().tool, "echo");
  EXPECT_EQ(queries.back().session_id, id);
}

TEST_F(EdgeHttpTest, RequestLogLinesCarryTheEdgeSpanEndpointAndUser) {
  // Spans are recorded (and queued for a collector that is never reached), so the edge's span
  // differs from the client's.
  telemetry::TracerConfig tracing;
  tracing.enabled = true;
  tracing.endpoint = "http://127.0.0.1:9/v1/traces";
  tracing.schedule_delay = std::chrono::milliseconds(600000);
  telemetry::Tracer::Global().Configure(tracing);
  log::Init("edge", log::Level::kDebug);
  std::string id = OpenSession();
  const std::string client_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  const std::string client_span = "00f067aa0ba902b7";
  std::string body = R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo"}})";
  testing::internal::CaptureStdout();
  Reply reply = Post(
      body, WithSession(id, {{"traceparent", "00-" + client_trace + "-" + client_span + "-01"}}));
  // The request's line is written just after its response.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::string out = testing::internal::GetCapturedStdout();
  log::Init("edge", log::Level::kInfo);
  telemetry::Tracer::Global().Configure(telemetry::TracerConfig{});  // the other tests' default
  ASSERT_EQ(reply.status, 200);

  // The span the edge passed on to the router is the one its log lines must name.
  std::string traceparent = router_.calls().back().trace.traceparent;
  ASSERT_EQ(traceparent.size(), 55u) << traceparent;
  std::string edge_span = traceparent.substr(36, 16);
  EXPECT_NE(edge_span, client_span);
  std::optional<json::object> line;
  std::istringstream lines(out);
  for (std::string text; std::getline(lines, text);) {
    if (text.empty() || text[0] != '{') continue;
    json::object parsed = json::parse(text).as_object();
    if (parsed["message"] == "http request" && parsed["trace_id"] == json::value(client_trace)) {
      line = parsed;
    }
  }
  ASSERT_TRUE(line.has_value()) << out;
  EXPECT_EQ((*line)["span_id"], json::value(edge_span));
  EXPECT_EQ((*line)["endpoint"], "team");
  EXPECT_EQ((*line)["user"], "ada@example.com");
  EXPECT_EQ((*line)["status"], 200);
  EXPECT_EQ(out.find("good-key"), std::string::npos);
}

TEST_F(EdgeHttpTest, NotificationsAndResponsesGet202AndReachTheRouter) {
  std::string id = OpenSession();
  Reply note = Post(R"({"jsonrpc":"2.0","method":"notifications/initialized"})", WithSession(id));
  EXPECT_EQ(note.status, 202);
  EXPECT_TRUE(note.body.empty());
  Reply answer = Post(R"({"jsonrpc":"2.0","id":"s1","result":{}})", WithSession(id));
  EXPECT_EQ(answer.status, 202);
  ASSERT_TRUE(router_.WaitFor([&] { return router_.sent().size() == 2; }));
  auto sent = router_.sent();
  EXPECT_EQ(sent[0].session_id, id);
  EXPECT_EQ(sent[0].message, R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(router_.calls().size(), 1u);  // just the initialize
}

TEST_F(EdgeHttpTest, PingIsAnsweredLocally) {
  std::string id = OpenSession();
  Reply in_session = Post(R"({"jsonrpc":"2.0","id":9,"method":"ping"})", WithSession(id));
  ASSERT_EQ(in_session.status, 200);
  EXPECT_EQ(in_session.body, R"({"jsonrpc":"2.0","id":9,"result":{}})");
  Reply before_session = Post(R"({"jsonrpc":"2.0","id":"p","method":"ping"})");
  EXPECT_EQ(before_session.status, 200);
  EXPECT_EQ(before_session.body, R"({"jsonrpc":"2.0","id":"p","result":{}})");
  EXPECT_EQ(router_.calls().size(), 1u);
}

TEST_F(EdgeHttpTest, NotificationsBeforeTheResponseSwitchToServerSentEvents) {
  std::string id = OpenSession();
  Reply reply =
      Post(R"({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"progress"}})",
           WithSession(id));
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.Header("content-type"), "text/event-stream");
  EXPECT_EQ(reply.Header("cache-control"), "no-cache");
  EXPECT_EQ(reply.Header("x-accel-buffering"), "no");
  EXPECT_EQ(reply.Header("transfer-encoding"), "chunked");
  // No ids: a request's stream is not kept for replay, so nothing invites a client to resume it.
  EXPECT_THAT(reply.body, ::testing::StartsWith("event: message\ndata: "));
  EXPECT_THAT(reply.body, ::testing::Not(::testing::HasSubstr("\nid:")));
  std::vector<std::string> events = EventData(reply.body);
  ASSERT_EQ(events.size(), 3u) << reply.body;
  EXPECT_EQ(json::parse(events[0]).at("method").as_string(), "notifications/progress");
  EXPECT_EQ(json::parse(events[1]).at("method").as_string(), "notifications/message");
  EXPECT_EQ(json::parse(events[2]).at("id").as_int64(), 4);
  EXPECT_TRUE(json::parse(events[2]).as_object().contains("result"));
  EXPECT_TRUE(router_.cancelled().empty());
}

TEST_F(EdgeHttpTest, TimeoutAnswersMinus32002AndCancelsAtTheRouter) {
  std::string id = OpenSession();
  Reply reply = Post(R"({"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"slow"}})",
                     WithSession(id));
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.ErrorCode(), -32002);
  EXPECT_EQ(reply.Json().at("id").as_int64(), 6);
  ASSERT_TRUE(router_.WaitFor([&] { return router_.cancelled().size() == 1; }));
}

TEST_F(EdgeHttpTest, TimeoutDuringAStreamEndsItWithMinus32002) {
  std::string id = OpenSession();
  Reply reply = Post(R"({"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"stall"}})",
                     WithSession(id));
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.Header("content-type"), "text/event-stream");
  std::vector<std::string> events = EventData(reply.body);
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(json::parse(events[1]).at("error").at("code").as_int64(), -32002);
  ASSERT_TRUE(router_.WaitFor([&] { return router_.cancelled().size() == 1; }));
}

TEST_F(EdgeHttpTest, ClientDisconnectCancelsTheCall) {
  // A long timeout, so that only the disconnect can explain the cancel.
  StopServer();
  StartServer(std::chrono::seconds(30));
  std::string id = OpenSession();
  for (std::string tool : {"slow", "stall"}) {
    size_t calls_before = router_.calls().size();
    size_t cancels_before = router_.cancelled().size();
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.connect(Endpoint());
    http::write(stream,
                MakeRequest(http::verb::post, "/metamcp/team/mcp", McpHeaders(WithSession(id)),
                            R"({"jsonrpc":"2.0","id":1,"method":"tools/call",)"
                            R"("params":{"name":")" +
                                tool + R"("}})"));
    ASSERT_TRUE(router_.WaitFor([&] { return router_.calls().size() == calls_before + 1; }));
    stream.socket().shutdown(tcp::socket::shutdown_both);
    stream.close();
    EXPECT_TRUE(router_.WaitFor([&] { return router_.cancelled().size() == cancels_before + 1; },
                                std::chrono::seconds(3)))
        << tool;
  }
}

TEST_F(EdgeHttpTest, DeleteEndsTheSession) {
  std::string id = OpenSession();
  Reply deleted = Send(http::verb::delete_, "/metamcp/team/mcp", McpHeaders(WithSession(id)));
  EXPECT_EQ(deleted.status, 204);
  EXPECT_TRUE(sessions_.sessions().empty());
  EXPECT_EQ(Post(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", WithSession(id)).status, 404);
  EXPECT_EQ(Send(http::verb::delete_, "/metamcp/team/mcp", McpHeaders(WithSession(id))).status,
            404);
  EXPECT_EQ(Send(http::verb::delete_, "/metamcp/team/mcp", McpHeaders()).status, 400);
}

TEST_F(EdgeHttpTest, DeleteNeedsTheCallersCredential) {
  std::string id = OpenSession();
  EXPECT_EQ(Send(http::verb::delete_, "/metamcp/team/mcp", {{"Mcp-Session-Id", id}}).status, 401);
  EXPECT_EQ(sessions_.sessions().size(), 1u);
}

TEST_F(EdgeHttpTest, OtherMethodsAre405) {
  Reply get = Send(http::verb::get, "/metamcp/team/mcp", {{"Accept", "text/event-stream"}});
  EXPECT_EQ(get.status, 405);
  EXPECT_EQ(get.Header("allow"), "POST, DELETE");
  EXPECT_EQ(Send(http::verb::put, "/metamcp/team/mcp").status, 405);
  EXPECT_EQ(Send(http::verb::post, "/healthz").status, 405);
}

TEST_F(EdgeHttpTest, UnknownPathsAre404) {
  EXPECT_EQ(Send(http::verb::get, "/").status, 404);
  EXPECT_EQ(Send(http::verb::post, "/metamcp/team/sse", McpHeaders(), "{}").status, 404);
  EXPECT_EQ(Send(http::verb::post, "/metamcp//mcp", McpHeaders(), "{}").status, 404);
}

TEST_F(EdgeHttpTest, HealthAndReadiness) {
  Reply health = Send(http::verb::get, "/healthz");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, R"({"status":"ok"})");
  EXPECT_EQ(Send(http::verb::get, "/readyz").status, 200);

  sessions_.unavailable = true;
  Reply no_redis = Send(http::verb::get, "/readyz");
  EXPECT_EQ(no_redis.status, 503);
  EXPECT_EQ(no_redis.body, R"({"status":"unavailable","failed":["redis"]})");

  config_synced_ = false;
  sessions_.unavailable = false;
  Reply no_config = Send(http::verb::get, "/readyz");
  EXPECT_EQ(no_config.status, 503);
  EXPECT_EQ(no_config.body, R"({"status":"unavailable","failed":["config_watch"]})");
}

TEST_F(EdgeHttpTest, KeepAliveCarriesSeveralRequests) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.connect(Endpoint());
  beast::flat_buffer buffer;
  for (int i = 0; i < 3; ++i) {
    http::write(stream, MakeRequest(http::verb::post, "/metamcp/team/mcp", McpHeaders(),
                                    std::string(kInitialize)));
    Reply reply = Read(stream, buffer);
    EXPECT_EQ(reply.status, 200);
  }
  // A request pipelined behind another is answered too.
  std::string two;
  for (int i = 0; i < 2; ++i) {
    std::ostringstream out;
    out << MakeRequest(http::verb::get, "/healthz", {}, "");
    two += out.str();
  }
  asio::write(stream, asio::buffer(two));
  EXPECT_EQ(Read(stream, buffer).status, 200);
  EXPECT_EQ(Read(stream, buffer).status, 200);
}

TEST_F(EdgeHttpTest, StopClosesIdleConnectionsAndFinishesRequestsInProgress) {
  std::string id = OpenSession();
  asio::io_context io;
  beast::tcp_stream idle(io);
  idle.connect(Endpoint());

  std::thread slow_client([&] {
    Reply reply = Post(R"({"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"slow"}})",
                       WithSession(id));
    // It finishes (with its timeout answer) instead of being cut off.
    EXPECT_EQ(reply.status, 200);
    EXPECT_EQ(reply.ErrorCode(), -32002);
  });
  ASSERT_TRUE(router_.WaitFor([&] { return router_.calls().size() == 2; }));
  server_->Stop(std::chrono::seconds(3));
  slow_client.join();

  char byte;
  boost::system::error_code ec;
  idle.socket().read_some(asio::buffer(&byte, 1), ec);
  EXPECT_EQ(ec, asio::error::eof);
  boost::system::error_code connect_ec;
  beast::tcp_stream late(io);
  late.socket().connect(Endpoint(), connect_ec);
  EXPECT_TRUE(connect_ec);
}

}  // namespace
}  // namespace switchboard::edge

namespace switchboard::edge {
namespace {

using testing_http::Sample;

constexpr char kClientTraceparent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST_F(EdgeHttpTest, TheClientsTraceContextReachesAuthAndTheRouter) {
  std::string id = OpenSession();
  std::string body = R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo"}})";
  Reply reply = Post(body, WithSession(id, {{"traceparent", kClientTraceparent},
                                            {"tracestate", "rojo=1"},
                                            {"baggage", "tier=gold"}}));
  ASSERT_EQ(reply.status, 200);
  auto calls = router_.calls();
  ASSERT_EQ(calls.size(), 2u);
  // Tracing is off in this process: the client's context is passed on as it came.
  EXPECT_EQ(calls[1].trace.traceparent, kClientTraceparent);
  EXPECT_EQ(calls[1].trace.tracestate, "rojo=1");
  EXPECT_EQ(calls[1].trace.baggage, "tier=gold");
  EXPECT_EQ(auth_.queries().back().trace.traceparent, kClientTraceparent);
  // A request without any carries none.
  EXPECT_TRUE(calls[0].trace.empty());
}

TEST_F(EdgeHttpTest, TraceContextInMetaWinsOverTheHeader) {
  std::string id = OpenSession();
  std::string meta_parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  std::string body = R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo",)"
                     R"("_meta":{"traceparent":")" +
                     meta_parent + R"("}}})";
  Reply reply = Post(body, WithSession(id, {{"traceparent", kClientTraceparent}}));
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(router_.calls().back().trace.traceparent, meta_parent);
  // A malformed one in _meta falls back to the header.
  body = R"({"jsonrpc":"2.0","id":6,"method":"tools/call","params":{"name":"echo",)"
         R"("_meta":{"traceparent":"00-bad"}}})";
  reply = Post(body, WithSession(id, {{"traceparent", kClientTraceparent}}));
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(router_.calls().back().trace.traceparent, kClientTraceparent);
}

TEST_F(EdgeHttpTest, AnOAuthEndpointServesItsProtectedResourceMetadata) {
  auth_.metadata["team"] = ResourceMetadata{"https://gw.example.com/metamcp/team/mcp",
                                            {"https://idp.example.com"},
                                            {"mcp:tools"}};
  const std::string path = "/.well-known/oauth-protected-resource/metamcp/team/mcp";
  Reply doc = Send(http::verb::get, path);
  ASSERT_EQ(doc.status, 200) << doc.body;
  EXPECT_EQ(doc.Header("access-control-allow-origin"), "*");
  EXPECT_EQ(doc.Header("cache-control"), "max-age=300");
  json::object m = doc.Json();
  EXPECT_EQ(m.at("resource").as_string(), "https://gw.example.com/metamcp/team/mcp");
  EXPECT_EQ(m.at("authorization_servers"), (json::array{"https://idp.example.com"}));
  EXPECT_EQ(m.at("scopes_supported"), (json::array{"mcp:tools"}));
  EXPECT_EQ(m.at("bearer_methods_supported"), (json::array{"header"}));
  // No scopes: no scopes_supported member.
  auth_.metadata["team"].scopes_supported.clear();
  EXPECT_FALSE(Send(http::verb::get, path).Json().contains("scopes_supported"));

  // An endpoint without OAuth (or unknown) has none; auth away is 503; only GET.
  EXPECT_EQ(Send(http::verb::get, "/.well-known/oauth-protected-resource/metamcp/open/mcp").status,
            404);
  EXPECT_EQ(Send(http::verb::post, path).status, 405);
  auth_.unavailable = true;
  EXPECT_EQ(Send(http::verb::get, path).status, 503);
}

TEST_F(EdgeHttpTest, MetricsCountRequestsByEndpointMethodAndStatus) {
  const std::string ok_calls =
      R"(sb_edge_requests_total{endpoint="team",method="tools/call",route="mcp",status="200"})";
  const std::string refused =
      R"(sb_edge_requests_total{endpoint="team",method="tools/call",route="mcp",status="401"})";
  Reply before = Send(http::verb::get, "/metrics");
  ASSERT_EQ(before.status, 200);
  std::string id = OpenSession();
  std::string body = R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"echo"}})";
  for (int i = 0; i < 2; ++i) ASSERT_EQ(Post(body, WithSession(id)).status, 200);
  ASSERT_EQ(Post(body, WithSession(id, {{"X-API-Key", ""}})).status, 401);
  Reply after = Send(http::verb::get, "/metrics");
  ASSERT_EQ(after.status, 200);
  EXPECT_EQ(Sample(after.body, ok_calls) - Sample(before.body, ok_calls), 2) << after.body;
  EXPECT_EQ(Sample(after.body, refused) - Sample(before.body, refused), 1);
  // A rate-limit refusal counts as one.
  const std::string limited = R"(sb_edge_rate_limited_total{endpoint="team"})";
  ASSERT_EQ(Post(body, WithSession(id, {{"X-API-Key", "limited-key"}})).status, 429);
  Reply limited_after = Send(http::verb::get, "/metrics");
  EXPECT_EQ(Sample(limited_after.body, limited) - Sample(after.body, limited), 1);
  EXPECT_NE(after.body.find("sb_edge_request_duration_seconds_bucket{"), std::string::npos);
  EXPECT_EQ(Send(http::verb::post, "/metrics").status, 405);
}

}  // namespace
}  // namespace switchboard::edge
