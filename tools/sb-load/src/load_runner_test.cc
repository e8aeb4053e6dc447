// Runs sb-load's engine against a small MCP-shaped Beast server living in the test, and against
// sb-echo-c over STDIO.
#include "tools/sb-load/src/load_runner.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>
#include <csignal>
#include <set>
#include <thread>

#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"

namespace switchboard::load {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using asio::ip::tcp;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr char kKey[] = "test-key";

// What the fake server should do besides answering correctly.
struct Behaviour {
  int corrupt_every = 0;                    // every Nth tools/call gets a wrong text
  std::chrono::milliseconds slow_delay{0};  // how long the tool "slow" takes
};

// An MCP Streamable HTTP server in miniature: API key check, sessions (Mcp-Session-Id),
// MCP-Protocol-Version check, initialize, notifications (202), tools/call echo (odd ids
// answered as an SSE stream with a progress notification first), tools/list, ping, DELETE.
class FakeMcpServer {
 public:
  explicit FakeMcpServer(Behaviour behaviour = {})
      : behaviour_(behaviour),
        acceptor_(io_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    asio::co_spawn(io_, Accept(), asio::detached);
    thread_ = std::thread([this] { io_.run(); });
  }

  ~FakeMcpServer() {
    io_.stop();
    thread_.join();
  }

  std::string url() const {
    return StrCat("http://127.0.0.1:", acceptor_.local_endpoint().port(), "/metamcp/t/mcp");
  }

  std::atomic<int> initializes{0};
  std::atomic<int> initialized_notes{0};
  std::atomic<int> deletes{0};
  std::atomic<int> calls{0};
  std::atomic<int> refused{0};

 private:
  asio::awaitable<void> Accept() {
    while (true) {
      auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
      if (ec) co_return;
      asio::co_spawn(io_, Serve(std::move(socket)), asio::detached);
    }
  }

  asio::awaitable<void> Serve(tcp::socket socket) {
    beast::tcp_stream stream(std::move(socket));
    beast::flat_buffer buffer;
    while (true) {
      http::request<http::string_body> request;
      auto [ec, n] = co_await http::async_read(stream, buffer, request, kTuple);
      if (ec) co_return;
      http::response<http::string_body> response = co_await Handle(request);
      response.version(11);
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      auto [write_ec, written] = co_await http::async_write(stream, response, kTuple);
      if (write_ec || !request.keep_alive()) co_return;
    }
  }

  static http::response<http::string_body> Reply(http::status status, std::string body,
                                                 std::string_view type = "application/json") {
    http::response<http::string_body> r{status, 11};
    if (!body.empty()) r.set(http::field::content_type, type);
    r.body() = std::move(body);
    return r;
  }

  static std::string Result(const json::value& id, const json::value& result) {
    json::object o{{"jsonrpc", "2.0"}, {"id", id}, {"result", result}};
    return json::serialize(o);
  }

  asio::awaitable<http::response<http::string_body>> Handle(
      const http::request<http::string_body>& request) {
    if (request[http::field::authorization] != StrCat("Bearer ", kKey)) {
      ++refused;
      co_return Reply(http::status::unauthorized,
                      R"({"jsonrpc":"2.0","id":null,"error":{"code":-32000,"message":"no"}})");
    }
    std::string session(request["Mcp-Session-Id"]);
    if (request.method() == http::verb::delete_) {
      ++deletes;
      co_return Reply(sessions_.erase(session) ? http::status::no_content : http::status::not_found,
                      "");
    }
    json::object message = json::parse(request.body()).as_object();
    std::string method(message.at("method").as_string());
    const json::value* id = message.if_contains("id");
    if (method == "initialize") {
      ++initializes;
      std::string sid = StrCat("session-", ++next_session_);
      sessions_.insert(sid);
      json::object result{{"protocolVersion", message.at("params").at("protocolVersion")},
                          {"capabilities", json::object{{"tools", json::object{}}}},
                          {"serverInfo", json::object{{"name", "fake"}, {"version", "1"}}}};
      auto r = Reply(http::status::ok, Result(*id, result));
      r.set("Mcp-Session-Id", sid);
      co_return r;
    }
    if (!sessions_.count(session)) co_return Reply(http::status::not_found, "{}");
    if (request["MCP-Protocol-Version"] != "2025-06-18") {
      co_return Reply(http::status::bad_request, "{}");
    }
    if (id == nullptr) {
      if (method == "notifications/initialized") ++initialized_notes;
      co_return Reply(http::status::accepted, "");
    }
    if (method == "tools/call") {
      int n = ++calls;
      const json::value& params = message.at("params");
      std::string name(params.at("name").as_string());
      if (name == "slow") {
        asio::steady_timer timer(co_await asio::this_coro::executor, behaviour_.slow_delay);
        co_await timer.async_wait(kTuple);
      } else if (name != "echo") {
        co_return Reply(http::status::ok,
                        json::serialize(json::object{
                            {"jsonrpc", "2.0"},
                            {"id", *id},
                            {"error", json::object{{"code", -32602}, {"message", "unknown"}}}}));
      }
      std::string text = StrCat("Echo: ", params.at("arguments").at("message").as_string());
      if (behaviour_.corrupt_every > 0 && n % behaviour_.corrupt_every == 0) text += "!";
      json::object result{{"content", json::array{json::object{{"type", "text"}, {"text", text}}}}};
      std::string answer = Result(*id, result);
      if (id->is_int64() && id->as_int64() % 2 == 1) {
        std::string progress =
            R"({"jsonrpc":"2.0","method":"notifications/progress","params":{"progressToken":1,"progress":1}})";
        co_return Reply(http::status::ok,
                        StrCat("event: message\ndata: ", progress,
                               "\n\nevent: message\ndata: ", answer, "\n\n"),
                        "text/event-stream");
      }
      co_return Reply(http::status::ok, answer);
    }
    if (method == "tools/list") {
      co_return Reply(
          http::status::ok,
          Result(*id, json::object{{"tools", json::array{json::object{{"name", "echo"}}}}}));
    }
    if (method == "ping") co_return Reply(http::status::ok, Result(*id, json::object{}));
    co_return Reply(http::status::ok,
                    json::serialize(json::object{
                        {"jsonrpc", "2.0"},
                        {"id", *id},
                        {"error", json::object{{"code", -32601}, {"message", "no such method"}}}}));
  }

  Behaviour behaviour_;
  asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::set<std::string> sessions_;  // touched on the server thread only
  int next_session_ = 0;
};

Options MustParse(std::vector<std::string> args) {
  absl::StatusOr<Options> options = ParseArgs(args, nullptr);
  EXPECT_TRUE(options.ok()) << options.status();
  return options.value_or(Options{});
}

class LoadRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override { std::signal(SIGPIPE, SIG_IGN); }
};

TEST_F(LoadRunnerTest, ClosedLoopWithAMixVerifiesEveryAnswer) {
  FakeMcpServer server;
  Options options =
      MustParse({server.url(), "--key", kKey, "--connections", "4", "--requests", "400", "--mix",
                 "call=80,list=10,ping=10", "--tool", "echo", "--duration", "30s"});
  Report report = RunLoad(options, false);
  EXPECT_EQ(report.sessions_opened, 4);
  EXPECT_EQ(report.ok, 400u);
  EXPECT_EQ(report.failed, 0u) << FormatText(report);
  EXPECT_TRUE(report.errors.empty());
  EXPECT_TRUE(report.setup_errors.empty());
  EXPECT_EQ(report.latency.count(), 400u);
  EXPECT_EQ(report.by_kind.size(), 3u);
  EXPECT_GT(report.by_kind[RequestKind::kCall].ok, report.by_kind[RequestKind::kList].ok);
  EXPECT_GT(report.throughput(), 0);
  EXPECT_EQ(report.mode, "closed");
  EXPECT_EQ(server.initializes.load(), 4);
  EXPECT_EQ(server.initialized_notes.load(), 4);
  EXPECT_EQ(server.deletes.load(), 4);  // sessions are ended at the end
  EXPECT_THAT(FormatText(report), HasSubstr("400 ok, 0 failed"));
}

TEST_F(LoadRunnerTest, WrongAnswersAreCountedAsMismatches) {
  FakeMcpServer server({.corrupt_every = 10});
  Options options = MustParse({server.url(), "--key", kKey, "--requests", "100", "--tool", "echo"});
  Report report = RunLoad(options, false);
  EXPECT_EQ(report.ok, 90u);
  EXPECT_EQ(report.failed, 10u);
  EXPECT_EQ(report.errors["mismatch"], 10u);
  EXPECT_THAT(report.error_samples["mismatch"], HasSubstr("!"));
}

TEST_F(LoadRunnerTest, JsonRpcErrorsAreCountedByCode) {
  FakeMcpServer server;
  Options options =
      MustParse({server.url(), "--key", kKey, "--requests", "5", "--tool", "missing"});
  Report report = RunLoad(options, false);
  EXPECT_EQ(report.ok, 0u);
  EXPECT_EQ(report.errors["jsonrpc error -32602"], 5u);
}

TEST_F(LoadRunnerTest, WrongKeyFailsSetupWithTheStatus) {
  FakeMcpServer server;
  Options options = MustParse({server.url(), "--key", "wrong", "--requests", "5"});
  Report report = RunLoad(options, false);
  EXPECT_EQ(report.sessions_opened, 0);
  EXPECT_EQ(report.ok, 0u);
  EXPECT_EQ(report.setup_errors["http status 401"], 3u);     // three attempts
  EXPECT_THAT(FormatText(report), Not(HasSubstr("wrong")));  // the key is never printed
  EXPECT_THAT(FormatJson(report), Not(HasSubstr("wrong")));
}

TEST_F(LoadRunnerTest, ConnectFailures) {
  uint16_t port;
  {
    asio::io_context io;
    tcp::acceptor probe(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = probe.local_endpoint().port();
  }
  Options options = MustParse(
      {StrCat("http://127.0.0.1:", port, "/mcp"), "--connections", "2", "--requests", "1"});
  Report report = RunLoad(options, false);
  EXPECT_EQ(report.sessions_opened, 0);
  EXPECT_EQ(report.setup_errors["connect"], 6u);
}

TEST_F(LoadRunnerTest, TimeoutsAreCountedAndTheConnectionRecovers) {
  FakeMcpServer server({.slow_delay = std::chrono::milliseconds(400)});
  Options options = MustParse(
      {server.url(), "--key", kKey, "--requests", "3", "--tool", "slow", "--timeout", "100ms"});
  Report report = RunLoad(options, false);
  EXPECT_EQ(report.errors["timeout"], 3u) << FormatText(report);
  EXPECT_EQ(report.ok, 0u);
  EXPECT_GE(report.latency.ValueAt(0.5), 100000000u);
}

TEST_F(LoadRunnerTest, OpenLoopKeepsTheRate) {
  FakeMcpServer server;
  Options options = MustParse({server.url(), "--key", kKey, "--connections", "2", "--rate", "500",
                               "--duration", "400ms", "--tool", "echo"});
  Report report = RunLoad(options, false);
  EXPECT_EQ(report.mode, "open");
  // 500/s for 400 ms: exactly 200 requests fall due; on an idle machine all are sent.
  EXPECT_EQ(report.ok + report.failed + report.not_sent, 200u) << FormatText(report);
  EXPECT_GE(report.ok, 150u);
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(report.latency.count(), report.ok);
}

TEST_F(LoadRunnerTest, OpenLoopWithARequestCount) {
  FakeMcpServer server;
  Options options = MustParse(
      {server.url(), "--key", kKey, "--rate", "1000", "--requests", "50", "--tool", "echo"});
  Report report = RunLoad(options, false);
  EXPECT_EQ(report.ok, 50u);
  EXPECT_LT(report.elapsed_s, 5.0);  // ~50 ms of schedule, far from the 10 s duration
}

TEST_F(LoadRunnerTest, WarmupIsExcluded) {
  FakeMcpServer server;
  Options options = MustParse(
      {server.url(), "--key", kKey, "--warmup", "150ms", "--duration", "250ms", "--tool", "echo"});
  Report report = RunLoad(options, false);
  EXPECT_GE(report.elapsed_s, 0.24);
  EXPECT_LT(report.elapsed_s, 5.0);
  EXPECT_GT(report.ok, 0u);
  EXPECT_EQ(report.latency.count(), report.ok);
  // Requests made during the warm-up were not counted.
  EXPECT_GT(static_cast<uint64_t>(server.calls.load()), report.ok);
}

TEST_F(LoadRunnerTest, IdleSessionsAreOpenedHeldAndEnded) {
  FakeMcpServer server;
  Options options = MustParse({server.url(), "--key", kKey, "--idle-sessions", "20", "--hold",
                               "50ms", "--pids", std::to_string(getpid())});
  Report report = RunLoad(options, false);
  EXPECT_EQ(report.mode, "idle");
  EXPECT_EQ(report.sessions_opened, 20);
  EXPECT_EQ(server.initializes.load(), 20);
  EXPECT_EQ(server.deletes.load(), 20);
  ASSERT_EQ(report.processes.size(), 1u);
  EXPECT_TRUE(report.processes[0].rss_before_kb.has_value());
  EXPECT_TRUE(report.processes[0].rss_after_kb.has_value());
  EXPECT_TRUE(report.RssPerSession(report.processes[0]).has_value());
}

TEST_F(LoadRunnerTest, CpuOfWatchedProcessesIsPerCall) {
  FakeMcpServer server;
  Options options = MustParse({server.url(), "--key", kKey, "--requests", "300", "--tool", "echo",
                               "--pids", std::to_string(getpid())});
  Report report = RunLoad(options, false);
  ASSERT_EQ(report.processes.size(), 1u);
  EXPECT_TRUE(report.processes[0].cpu_us.has_value());
  EXPECT_TRUE(report.CpuPerCall().has_value());
  EXPECT_TRUE(report.client_cpu_us.has_value());
}

TEST_F(LoadRunnerTest, JsonReport) {
  FakeMcpServer server;
  Options options = MustParse(
      {server.url(), "--key", kKey, "--requests", "20", "--tool", "echo", "--label", "fake"});
  Report report = RunLoad(options, false);
  json::object o = json::parse(FormatJson(report)).as_object();
  EXPECT_EQ(o.at("label"), "fake");
  EXPECT_EQ(o.at("ok"), 20);
  EXPECT_EQ(o.at("failed"), 0);
  EXPECT_GT(o.at("throughput").to_number<double>(), 0);
  EXPECT_GT(o.at("latency_us").at("p99").to_number<double>(), 0);
  EXPECT_TRUE(o.at("errors").as_object().empty());
  EXPECT_TRUE(o.at("cpu_us_per_call").is_null());
  EXPECT_EQ(o.at("by_kind").at("call").at("ok"), 20);
}

TEST_F(LoadRunnerTest, StdioModeDrivesSbEchoC) {
  Options options = MustParse({"--stdio", SB_ECHO_C_BIN, "--connections", "8", "--requests", "2000",
                               "--mix", "call=90,list=5,ping=5"});
  Report report = RunLoad(options, false);
  EXPECT_EQ(report.ok, 2000u) << FormatText(report);
  EXPECT_EQ(report.failed, 0u);
  EXPECT_EQ(report.sessions_opened, 8);
  ASSERT_EQ(report.processes.size(), 1u);  // the server itself is watched
  EXPECT_EQ(report.processes[0].name, "sb-echo-c");
  EXPECT_TRUE(report.processes[0].cpu_us.has_value());
}

TEST_F(LoadRunnerTest, StdioModeReportsAMissingCommand) {
  Options options = MustParse({"--stdio", "/nonexistent/sb-echo-c", "--requests", "1"});
  Report report = RunLoad(options, false);
  EXPECT_EQ(report.ok, 0u);
  EXPECT_FALSE(report.setup_errors.empty());
}

}  // namespace
}  // namespace switchboard::load
