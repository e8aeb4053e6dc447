// HttpUpstreamFactory against real MCP servers on loopback: the conformance fixture
// (integration-tests/conformance/fixture/server.mjs, Streamable HTTP) and
// @modelcontextprotocol/server-everything (tools/npm) in its streamableHttp and sse modes.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <condition_variable>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "services/router/src/http_upstream.h"
#include "services/router/src/router_telemetry.h"
#include "switchboard/common/strings.h"

extern char** environ;

namespace switchboard::router {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;
using asio::ip::tcp;
using std::chrono::milliseconds;

constexpr char kNode[] = "/usr/bin/node";
constexpr char kToken[] = "secret-token-for-tests";

std::string SourceDir() { return SB_SOURCE_DIR; }

int FreePort() {
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
  return acceptor.local_endpoint().port();
}

bool PortOpen(int port) {
  asio::io_context io;
  tcp::socket socket(io);
  boost::system::error_code ec;
  socket.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), static_cast<uint16_t>(port)),
                 ec);
  return !ec;
}

// A Node server started for one test and stopped (SIGTERM, then SIGKILL) when it goes.
class NodeServer {
 public:
  // Runs node with `args` (plus `env`), output to a log file, and waits up to 15 s for `port`
  // to accept connections (`port` 0: for the server to print "listening http://…").
  static std::unique_ptr<NodeServer> Start(const std::vector<std::string>& args,
                                           const std::vector<std::string>& env, int port) {
    std::vector<std::string> argv = {
        kNode, "--require", SourceDir() + "/services/router/src/testdata/loopback_listen.cjs"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e) envs.emplace_back(*e);
    envs.insert(envs.end(), env.begin(), env.end());
    static int started = 0;
    std::string log = StrCat("node-", getpid(), "-", ++started, ".log");
    pid_t pid = fork();
    if (pid == 0) {
      int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
      }
      std::vector<char*> a;
      for (auto& s : argv) a.push_back(s.data());
      a.push_back(nullptr);
      std::vector<char*> e;
      for (auto& s : envs) e.push_back(s.data());
      e.push_back(nullptr);
      execve(kNode, a.data(), e.data());
      _exit(127);
    }
    auto server = std::unique_ptr<NodeServer>(new NodeServer(pid, log));
    for (int i = 0; i < 150; ++i) {
      if (port > 0 ? PortOpen(port) : !server->ListeningUrl().empty()) return server;
      if (waitpid(pid, nullptr, WNOHANG) == pid) {
        server->pid_ = -1;
        return nullptr;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    return nullptr;
  }

  ~NodeServer() { Stop(); }

  // The URL of a "listening http://…" (or https://) line the server printed, or "".
  std::string ListeningUrl() const {
    std::ifstream in(log_);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("listening http://", 0) == 0 || line.rfind("listening https://", 0) == 0) {
        return line.substr(10);
      }
    }
    return "";
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 50; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(milliseconds(100));
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

 private:
  NodeServer(pid_t pid, std::string log) : pid_(pid), log_(std::move(log)) {}
  pid_t pid_;
  std::string log_;
};

std::string LocalUrl(int port, std::string_view path) {
  return StrCat("http://127.0.0.1:", port, path);
}

std::unique_ptr<NodeServer> StartFixture(int port) {
  return NodeServer::Start({SourceDir() + "/integration-tests/conformance/fixture/server.mjs",
                            "http", "--port", std::to_string(port)},
                           {}, port);
}

std::unique_ptr<NodeServer> StartEverything(const std::string& mode, int port) {
  return NodeServer::Start(
      {SourceDir() +
           "/tools/npm/node_modules/@modelcontextprotocol/server-everything/dist/index.js",
       mode},
      {StrCat("PORT=", port)}, port);
}

bool HasId(const json::object& o, int64_t id) {
  const auto* v = o.if_contains("id");
  return v != nullptr && v->is_int64() && v->as_int64() == id;
}

// Everything an upstream reported, with the thread it was reported on.
class Recorder {
 public:
  UpstreamEvents Events() {
    UpstreamEvents events;
    events.on_message = [this](std::string message) {
      std::lock_guard<std::mutex> lock(mu_);
      threads_.push_back(std::this_thread::get_id());
      messages_.push_back(std::move(message));
      cv_.notify_all();
    };
    events.on_closed = [this](std::string reason) {
      std::lock_guard<std::mutex> lock(mu_);
      threads_.push_back(std::this_thread::get_id());
      closed_ = std::move(reason);
      cv_.notify_all();
    };
    return events;
  }

  // The first message (in arrival order, from index `from` on) for which `match` holds, waiting
  // up to `timeout`.
  std::optional<json::object> WaitFor(const std::function<bool(const json::object&)>& match,
                                      milliseconds timeout = milliseconds(20000), size_t from = 0) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<json::object> found;
    cv_.wait_for(lock, timeout, [&] {
      for (size_t i = from; i < messages_.size(); ++i) {
        boost::system::error_code ec;
        json::value v = json::parse(messages_[i], ec);
        if (!ec && v.is_object() && match(v.as_object())) {
          found = v.as_object();
          return true;
        }
      }
      return false;
    });
    return found;
  }

  // The response with id `id`.
  std::optional<json::object> Response(int64_t id) {
    return WaitFor([id](const json::object& o) {
      return HasId(o, id) && (o.contains("result") || o.contains("error"));
    });
  }

  // Index of the first message for which `match` holds, or -1.
  int IndexOf(const std::function<bool(const json::object&)>& match) {
    std::lock_guard<std::mutex> lock(mu_);
    for (size_t i = 0; i < messages_.size(); ++i) {
      boost::system::error_code ec;
      json::value v = json::parse(messages_[i], ec);
      if (!ec && v.is_object() && match(v.as_object())) return static_cast<int>(i);
    }
    return -1;
  }

  // Index of the first message with id `id`, or -1.
  int IndexOfId(int64_t id) {
    return IndexOf([id](const json::object& o) { return HasId(o, id); });
  }

  std::optional<std::string> WaitClosed(milliseconds timeout) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, timeout, [&] { return closed_.has_value(); });
    return closed_;
  }

  std::optional<std::string> closed() {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }

  std::vector<std::thread::id> threads() {
    std::lock_guard<std::mutex> lock(mu_);
    return threads_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> messages_;
  std::vector<std::thread::id> threads_;
  std::optional<std::string> closed_;
};

bool IsProgress(const json::object& o, std::string_view token) {
  const auto* method = o.if_contains("method");
  if (method == nullptr || !method->is_string() ||
      method->as_string() != "notifications/progress") {
    return false;
  }
  const auto* params = o.if_contains("params");
  if (params == nullptr || !params->is_object()) return false;
  const auto* t = params->as_object().if_contains("progressToken");
  return t != nullptr && t->is_string() && t->as_string() == token;
}

// A progress notification for `token` arrived, and before the response with id `id`.
void ExpectProgressBeforeResponse(Recorder& recorder, std::string_view token, int64_t id) {
  int progress = recorder.IndexOf([token](const json::object& o) { return IsProgress(o, token); });
  int response = recorder.IndexOfId(id);
  EXPECT_GE(progress, 0);
  EXPECT_LT(progress, response);
}

std::string ToolNames(const json::object& response) {
  std::string names;
  const auto* result = response.if_contains("result");
  if (result == nullptr || !result->is_object()) return names;
  const auto* tools = result->as_object().if_contains("tools");
  if (tools == nullptr || !tools->is_array()) return names;
  for (const auto& t : tools->as_array()) {
    names += StrCat(std::string_view(t.as_object().at("name").as_string()), " ");
  }
  return names;
}

class HttpUpstreamTest : public testing::Test {
 protected:
  HttpUpstreamTest() : work_(asio::make_work_guard(io_)) {
    UseFactory("");
    thread_ = std::thread([this] { io_.run(); });
    io_thread_ = thread_.get_id();
  }

  // Later links come from a factory that trusts the CAs in `ca_file` ("" = the system's).
  void UseFactory(const std::string& ca_file) {
    HttpUpstreamOptions options;
    options.connect_timeout = milliseconds(3000);
    options.read_timeout = milliseconds(30000);
    options.retry_delay = milliseconds(200);
    options.ca_file = ca_file;
    factory_ = std::make_unique<HttpUpstreamFactory>(io_.get_executor(), options);
  }

  ~HttpUpstreamTest() override {
    for (auto& link : links_) link->Close();
    std::this_thread::sleep_for(milliseconds(100));
    work_.reset();
    io_.stop();
    thread_.join();
  }

  // A recorder that outlives the test body: links stay open until the destructor closes them,
  // and may report until then.
  Recorder& NewRecorder() { return *recorders_.emplace_back(std::make_unique<Recorder>()); }

  std::shared_ptr<Upstream> Connect(const std::string& type, const std::string& url,
                                    Recorder& recorder) {
    registry::v1::Server server;
    server.set_name("remote");
    server.set_type(type);
    server.set_url(url);
    server.set_bearer_token(kToken);
    (*server.mutable_headers())["X-Switchboard-Test"] = "header-value";
    auto link = factory_->Connect(server, recorder.Events());
    links_.push_back(link);
    return link;
  }

  void ExpectOnIoThread(Recorder& recorder) {
    for (auto id : recorder.threads()) EXPECT_EQ(id, io_thread_);
  }

  // tools/list, tools/call echo-like and a call with progress, answered with the router's ids.
  void ExerciseEverything(Upstream& link, Recorder& recorder) {
    link.Send(R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}})");
    auto list = recorder.Response(1);
    ASSERT_TRUE(list.has_value()) << recorder.closed().value_or("no answer");
    EXPECT_NE(ToolNames(*list).find("echo "), std::string::npos) << ToolNames(*list);

    link.Send(
        R"({"jsonrpc":"2.0","id":42,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello switchboard"}}})");
    auto echo = recorder.Response(42);
    ASSERT_TRUE(echo.has_value());
    EXPECT_NE(json::serialize(*echo).find("Echo: hello switchboard"), std::string::npos)
        << json::serialize(*echo);

    link.Send(
        R"({"jsonrpc":"2.0","id":43,"method":"tools/call","params":{"name":"trigger-long-running-operation","arguments":{"duration":1,"steps":2},"_meta":{"progressToken":"p-43"}}})");
    auto done = recorder.Response(43);
    ASSERT_TRUE(done.has_value());
    EXPECT_TRUE(done->contains("result")) << json::serialize(*done);
    ExpectProgressBeforeResponse(recorder, "p-43", 43);
    EXPECT_FALSE(recorder.closed().has_value()) << *recorder.closed();
    ExpectOnIoThread(recorder);
  }

  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::unique_ptr<HttpUpstreamFactory> factory_;
  std::thread thread_;
  std::thread::id io_thread_;
  std::vector<std::shared_ptr<Upstream>> links_;
  std::vector<std::unique_ptr<Recorder>> recorders_;
};

TEST_F(HttpUpstreamTest, FixtureOverStreamableHttp) {
  int port = FreePort();
  auto fixture = StartFixture(port);
  ASSERT_NE(fixture, nullptr);
  Recorder& recorder = NewRecorder();
  auto link = Connect("STREAMABLE_HTTP", LocalUrl(port, "/mcp"), recorder);

  link->Send(R"({"jsonrpc":"2.0","id":7,"method":"tools/list"})");
  auto list = recorder.Response(7);
  ASSERT_TRUE(list.has_value()) << recorder.closed().value_or("no answer");
  EXPECT_NE(ToolNames(*list).find("test_simple_text "), std::string::npos);

  link->Send(
      R"({"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"test_simple_text","arguments":{}}})");
  auto call = recorder.Response(8);
  ASSERT_TRUE(call.has_value());
  EXPECT_TRUE(call->contains("result")) << json::serialize(*call);

  link->Send(
      R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":"tok-9"}}})");
  auto done = recorder.Response(9);
  ASSERT_TRUE(done.has_value());
  EXPECT_NE(json::serialize(*done).find("tok-9"), std::string::npos) << json::serialize(*done);
  ExpectProgressBeforeResponse(recorder, "tok-9", 9);

  // Several requests in flight at once are each answered under their own id.
  for (int id = 100; id < 108; ++id) {
    link->Send(StrCat(R"({"jsonrpc":"2.0","id":)", id, R"(,"method":"ping"})"));
  }
  for (int id = 100; id < 108; ++id) EXPECT_TRUE(recorder.Response(id).has_value()) << id;

  // A request the server refuses (the fixture rejects a body over 4 MiB) becomes a JSON-RPC
  // error for its id.
  link->Send(StrCat(
      R"({"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"test_simple_text","arguments":{"pad":")",
      std::string(5 << 20, 'x'), R"("}}})"));
  auto refused = recorder.Response(10);
  ASSERT_TRUE(refused.has_value());
  ASSERT_TRUE(refused->contains("error")) << json::serialize(*refused);
  std::string text = json::serialize(refused->at("error"));
  EXPECT_NE(text.find("MCP server 'remote'"), std::string::npos) << text;
  EXPECT_EQ(text.find(kToken), std::string::npos);

  EXPECT_FALSE(recorder.closed().has_value()) << *recorder.closed();
  ExpectOnIoThread(recorder);
}

TEST_F(HttpUpstreamTest, RequestsCarryTheTransportHeaders) {
  int port = FreePort();
  auto fixture = StartFixture(port);
  ASSERT_NE(fixture, nullptr);
  std::string capture = StrCat("capture-", getpid());
  auto proxy = NodeServer::Start({SourceDir() + "/integration-tests/conformance/capture-proxy.mjs",
                                  "--target", LocalUrl(port, ""), "--log", capture},
                                 {}, 0);
  ASSERT_NE(proxy, nullptr);
  Recorder& recorder = NewRecorder();
  auto link = Connect("STREAMABLE_HTTP", proxy->ListeningUrl() + "/mcp", recorder);
  link->Send(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  ASSERT_TRUE(recorder.Response(1).has_value()) << recorder.closed().value_or("no answer");
  link->Send(R"({"jsonrpc":"2.0","method":"notifications/roots/list_changed"})");
  // The ping is an upstream call of a traced client request: its trace context goes along.
  const std::string traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  {
    v1::RouterRequest client_request;
    client_request.set_traceparent(traceparent);
    client_request.set_baggage("tier=gold");
    jsonrpc::Envelope env;
    env.method = "ping";
    UpstreamCall call(StartCallSpan(client_request, env), "fixture", "ping");
    ScopedUpstream current(&call);
    link->Send(R"({"jsonrpc":"2.0","id":2,"method":"ping"})");
  }
  ASSERT_TRUE(recorder.Response(2).has_value());

  // The notification may still be on its way to the proxy when ping's answer is back.
  auto count_posts = [&] {
    std::ifstream in(capture + ".jsonl");
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      n += line.find(R"("kind":"request","method":"POST")") != std::string::npos;
    }
    return n;
  };
  for (int i = 0; i < 50 && count_posts() < 5; ++i) std::this_thread::sleep_for(milliseconds(100));
  std::ifstream in(capture + ".jsonl");
  std::string line;
  int posts = 0;
  int gets = 0;
  while (std::getline(in, line)) {
    json::object entry = json::parse(line).as_object();
    if (entry.at("kind").as_string() != "request") continue;
    const json::object& headers = entry.at("headers").as_object();
    auto header = [&](const char* name) {
      const auto* v = headers.if_contains(name);
      return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
    };
    EXPECT_EQ(header("authorization"), StrCat("Bearer ", kToken));
    EXPECT_EQ(header("x-switchboard-test"), "header-value");
    std::string body(entry.at("body").as_string());
    if (entry.at("method").as_string() == "GET") {
      ++gets;
      EXPECT_EQ(header("accept"), "text/event-stream");
      EXPECT_FALSE(header("mcp-session-id").empty());
      continue;
    }
    ++posts;
    EXPECT_EQ(header("accept"), "application/json, text/event-stream");
    EXPECT_EQ(header("content-type"), "application/json");
    if (body.find("\"initialize\"") != std::string::npos) {
      EXPECT_NE(body.find("\"protocolVersion\":\"2025-11-25\""), std::string::npos) << body;
      EXPECT_NE(body.find("\"sampling\":{}"), std::string::npos) << body;
      EXPECT_NE(body.find("\"switchboard-router\""), std::string::npos) << body;
      EXPECT_TRUE(header("mcp-session-id").empty());
    } else {
      EXPECT_FALSE(header("mcp-session-id").empty()) << body;
      EXPECT_EQ(header("mcp-protocol-version"), "2025-11-25") << body;
    }
    // Tracing is off in this process: the caller's context is passed on as it came, in the
    // headers and in params._meta, and only with the traced call.
    bool traced = body.find("\"ping\"") != std::string::npos;
    EXPECT_EQ(header("traceparent"), traced ? traceparent : "") << body;
    EXPECT_EQ(header("baggage"), traced ? "tier=gold" : "") << body;
    EXPECT_EQ(body.find(StrCat("\"traceparent\":\"", traceparent, "\"")) != std::string::npos,
              traced)
        << body;
  }
  // initialize, notifications/initialized, tools/list, the notification and ping, byte for byte.
  EXPECT_EQ(posts, 5);
  EXPECT_GE(gets, 1);
}

TEST_F(HttpUpstreamTest, ExpiredSessionIsInitializedAgain) {
  int port = FreePort();
  auto fixture = StartFixture(port);
  ASSERT_NE(fixture, nullptr);
  Recorder& recorder = NewRecorder();
  auto link = Connect("STREAMABLE_HTTP", LocalUrl(port, "/mcp"), recorder);
  link->Send(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  ASSERT_TRUE(recorder.Response(1).has_value()) << recorder.closed().value_or("no answer");

  // A new fixture process on the same port knows nothing of the session: it answers 404.
  fixture->Stop();
  fixture = StartFixture(port);
  ASSERT_NE(fixture, nullptr);
  link->Send(R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})");
  auto list = recorder.Response(2);
  ASSERT_TRUE(list.has_value()) << recorder.closed().value_or("no answer");
  EXPECT_NE(ToolNames(*list).find("test_simple_text "), std::string::npos)
      << json::serialize(*list);
  EXPECT_FALSE(recorder.closed().has_value()) << *recorder.closed();
}

TEST_F(HttpUpstreamTest, EverythingOverStreamableHttp) {
  int port = FreePort();
  auto server = StartEverything("streamableHttp", port);
  ASSERT_NE(server, nullptr);
  Recorder& recorder = NewRecorder();
  auto link = Connect("STREAMABLE_HTTP", LocalUrl(port, "/mcp"), recorder);
  ExerciseEverything(*link, recorder);

  // Simulated logging goes on every 5 s, outside any request: on the GET stream.
  link->Send(
      R"({"jsonrpc":"2.0","id":44,"method":"tools/call","params":{"name":"toggle-simulated-logging","arguments":{}}})");
  ASSERT_TRUE(recorder.Response(44).has_value());
  int answered = recorder.IndexOfId(44);
  auto unsolicited = recorder.WaitFor(
      [](const json::object& o) {
        const auto* method = o.if_contains("method");
        return method != nullptr && method->is_string() &&
               method->as_string() == "notifications/message";
      },
      milliseconds(15000), static_cast<size_t>(answered + 1));
  EXPECT_TRUE(unsolicited.has_value());
  link->Send(
      R"({"jsonrpc":"2.0","id":45,"method":"tools/call","params":{"name":"toggle-simulated-logging","arguments":{}}})");
  EXPECT_TRUE(recorder.Response(45).has_value());
  ExpectOnIoThread(recorder);
}

TEST_F(HttpUpstreamTest, EverythingOverLegacySse) {
  int port = FreePort();
  auto server = StartEverything("sse", port);
  ASSERT_NE(server, nullptr);
  Recorder& recorder = NewRecorder();
  auto link = Connect("SSE", LocalUrl(port, "/sse"), recorder);
  ExerciseEverything(*link, recorder);
}

TEST_F(HttpUpstreamTest, LostSseStreamClosesTheUpstream) {
  int port = FreePort();
  auto server = StartEverything("sse", port);
  ASSERT_NE(server, nullptr);
  Recorder& recorder = NewRecorder();
  auto link = Connect("SSE", LocalUrl(port, "/sse"), recorder);
  link->Send(R"({"jsonrpc":"2.0","id":1,"method":"ping"})");
  ASSERT_TRUE(recorder.Response(1).has_value()) << recorder.closed().value_or("no answer");
  server->Stop();
  auto reason = recorder.WaitClosed(milliseconds(10000));
  ASSERT_TRUE(reason.has_value());
  EXPECT_NE(reason->find("SSE stream"), std::string::npos) << *reason;
}

TEST_F(HttpUpstreamTest, UnreachableServerIsClosed) {
  for (const char* type : {"STREAMABLE_HTTP", "SSE"}) {
    Recorder& recorder = NewRecorder();
    auto link = Connect(type, LocalUrl(FreePort(), "/mcp"), recorder);
    link->Send(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
    auto reason = recorder.WaitClosed(milliseconds(10000));
    ASSERT_TRUE(reason.has_value()) << type;
    EXPECT_NE(reason->find("cannot reach"), std::string::npos) << *reason;
    EXPECT_EQ(reason->find(kToken), std::string::npos);
    ExpectOnIoThread(recorder);
  }
}

// A self-signed certificate (and its key) for the names in `alt_names` ("IP:127.0.0.1,..."),
// made with the openssl command in `dir`; false when openssl failed.
bool MakeCertificate(const std::string& dir, const std::string& alt_names) {
  std::string command = StrCat(
      "mkdir -p ", dir, " && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 ",
      "-nodes -days 1 -subj /CN=switchboard-test -addext subjectAltName=", alt_names, " -keyout ",
      dir, "/key.pem -out ", dir, "/cert.pem >", dir, "/openssl.log 2>&1");
  return std::system(command.c_str()) == 0;
}

// The fixture behind a TLS terminator that presents `dir`'s certificate.
struct TlsFixture {
  std::unique_ptr<NodeServer> fixture;
  std::unique_ptr<NodeServer> proxy;
  int proxy_port = 0;
};

TlsFixture StartTlsFixture(const std::string& dir) {
  TlsFixture t;
  int port = FreePort();
  t.fixture = StartFixture(port);
  if (t.fixture == nullptr) return t;
  t.proxy = NodeServer::Start({SourceDir() + "/services/router/src/testdata/tls_proxy.cjs",
                               "--cert", dir + "/cert.pem", "--key", dir + "/key.pem",
                               "--target", LocalUrl(port, "")},
                              {}, 0);
  if (t.proxy != nullptr) {
    std::string url = t.proxy->ListeningUrl();
    t.proxy_port = std::stoi(url.substr(url.rfind(':') + 1));
  }
  return t;
}

TEST_F(HttpUpstreamTest, HttpsUpstreamWithATrustedCertificate) {
  std::string dir = StrCat("tls-trusted-", getpid());
  ASSERT_TRUE(MakeCertificate(dir, "IP:127.0.0.1,DNS:localhost"));
  TlsFixture tls = StartTlsFixture(dir);
  ASSERT_NE(tls.proxy, nullptr);
  UseFactory(dir + "/cert.pem");
  // By IP address and by host name (sent as SNI): the certificate names both.
  for (std::string host : {"127.0.0.1", "localhost"}) {
    Recorder& recorder = NewRecorder();
    auto link = Connect("STREAMABLE_HTTP", StrCat("https://", host, ":", tls.proxy_port, "/mcp"),
                        recorder);
    link->Send(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
    auto list = recorder.Response(1);
    ASSERT_TRUE(list.has_value()) << host << ": " << recorder.closed().value_or("no answer");
    EXPECT_NE(ToolNames(*list).find("test_simple_text "), std::string::npos);
    // A streamed (SSE) answer over TLS: progress first, then the result.
    link->Send(
        R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":"tls-2"}}})");
    ASSERT_TRUE(recorder.Response(2).has_value());
    ExpectProgressBeforeResponse(recorder, "tls-2", 2);
    EXPECT_FALSE(recorder.closed().has_value()) << *recorder.closed();
    ExpectOnIoThread(recorder);
  }
}

TEST_F(HttpUpstreamTest, HttpsUpstreamIsRefusedUnlessItsCertificateIsTrustedAndNamesIt) {
  std::string dir = StrCat("tls-refused-", getpid());
  ASSERT_TRUE(MakeCertificate(dir, "DNS:other.example"));
  TlsFixture tls = StartTlsFixture(dir);
  ASSERT_NE(tls.proxy, nullptr);
  std::string url = StrCat("https://127.0.0.1:", tls.proxy_port, "/mcp");
  // Not signed by a CA the router trusts (the system's).
  {
    Recorder& recorder = NewRecorder();
    Connect("STREAMABLE_HTTP", url, recorder);
    auto reason = recorder.WaitClosed(milliseconds(10000));
    ASSERT_TRUE(reason.has_value());
    EXPECT_NE(reason->find("certificate verify failed"), std::string::npos) << *reason;
    EXPECT_EQ(reason->find(kToken), std::string::npos);
  }
  // Trusted, but issued for another name.
  UseFactory(dir + "/cert.pem");
  {
    Recorder& recorder = NewRecorder();
    Connect("STREAMABLE_HTTP", url, recorder);
    auto reason = recorder.WaitClosed(milliseconds(10000));
    ASSERT_TRUE(reason.has_value());
    EXPECT_NE(reason->find("certificate verify failed"), std::string::npos) << *reason;
  }
  // A CA file that cannot be read closes https links with a reason naming it.
  UseFactory(dir + "/missing.pem");
  {
    Recorder& recorder = NewRecorder();
    Connect("STREAMABLE_HTTP", url, recorder);
    auto reason = recorder.WaitClosed(milliseconds(5000));
    ASSERT_TRUE(reason.has_value());
    EXPECT_NE(reason->find("missing.pem"), std::string::npos) << *reason;
  }
}

TEST(CompositeUpstreamFactoryTest, SendsEachTypeToItsFactory) {
  struct Counting : UpstreamFactory {
    std::shared_ptr<Upstream> Connect(const registry::v1::Server& server, UpstreamEvents) override {
      types.push_back(server.type());
      return nullptr;
    }
    std::vector<std::string> types;
  };
  Counting stdio;
  Counting remote;
  CompositeUpstreamFactory composite(&stdio, &remote);
  for (const char* type : {"STDIO", "SSE", "STREAMABLE_HTTP"}) {
    registry::v1::Server server;
    server.set_type(type);
    composite.Connect(server, {});
  }
  EXPECT_EQ(stdio.types, std::vector<std::string>({"STDIO"}));
  EXPECT_EQ(remote.types, std::vector<std::string>({"SSE", "STREAMABLE_HTTP"}));
}

}  // namespace
}  // namespace switchboard::router
