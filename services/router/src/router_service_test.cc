#include "services/router/src/router_service.h"
#include "services/router/src/router_wire.h"
#include "switchboard/wire/protocols.h"
#include "switchboard/common/strings.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

namespace switchboard::router {
namespace {

namespace asio = boost::asio;
namespace json = boost::json;

// An in-process MCP server standing in for the runner: answers tools/list (two pages when
// asked), tools/call echo (with a progress notification first when a token is given) and
// records everything it receives.
class FakeUpstream final : public Upstream {
 public:
  FakeUpstream(asio::io_context& io, std::string name, UpstreamEvents events)
      : io_(io), name_(std::move(name)), events_(std::move(events)) {}

  void Send(std::string message) override {
    received.push_back(message);
    traces.push_back(CurrentTraceHeaders());
    if (silent) return;
    json::object m = json::parse(message).as_object();
    if (!m.contains("method") && m.contains("id") && m["id"] == "up-ask" && asked_call &&
        m.contains("error")) {
      // Refused: the call that asked fails.
      Emit(json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", *asked_call},
                                        {"result", json::object{{"isError", true}}}}));
      asked_call.reset();
      return;
    }
    if (!m.contains("method") && m.contains("id") && m["id"] == "up-ask" && asked_call) {
      // The client's answer to our sampling request finishes the call that asked.
      std::string text(m["result"].as_object()["content"].as_object()["text"].as_string());
      json::object result{{"content", json::array{json::object{{"type", "text"}, {"text", "Sampled: " + text}}}}};
      Emit(json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", *asked_call}, {"result", result}}));
      asked_call.reset();
      return;
    }
    if (!m.contains("id") || !m.contains("method")) return;
    json::value id = m["id"];
    std::string method(m["method"].as_string());
    json::object result;
    if (method == "tools/list") {
      json::array tools;
      bool second = m.contains("params") && m["params"].as_object().contains("cursor");
      tools.push_back(json::object{{"name", second ? "add" : "echo"}, {"inputSchema", json::object{}}});
      for (const std::string& extra : extra_tools) {
        if (!second) tools.push_back(json::object{{"name", extra}, {"inputSchema", json::object{}}});
      }
      result["tools"] = tools;
      if (paged && !second) result["nextCursor"] = "page2";
    } else if (method == "prompts/list") {
      result["prompts"] = json::array{json::object{{"name", "greet"}}};
    } else if (method == "resources/list") {
      json::array resources{json::object{{"uri", "test://" + name_ + "/r1"}, {"name", "r1"}}};
      for (const std::string& uri : extra_resources) {
        resources.push_back(json::object{{"uri", uri}, {"name", name_}});
      }
      result["resources"] = std::move(resources);
    } else if (method == "resources/templates/list") {
      result["resourceTemplates"] = json::array{json::object{{"uriTemplate", "tmpl://" + name_ + "/{id}"}}};
    } else if (method == "resources/read") {
      std::string uri(m["params"].as_object()["uri"].as_string());
      bool extra = std::find(extra_resources.begin(), extra_resources.end(), uri) !=
                   extra_resources.end();
      if (uri.find(name_) == std::string::npos && !extra) {
        Emit(json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", id},
            {"error", json::object{{"code", -32002}, {"message", "Resource not found"}}}}));
        return;
      }
      result["contents"] = json::array{json::object{{"uri", uri}, {"text", "from " + name_}}};
    } else if (method == "completion/complete") {
      json::object ref = m["params"].as_object()["ref"].as_object();
      std::string what = ref.contains("name") ? std::string(ref["name"].as_string())
                                              : std::string(ref["uri"].as_string());
      result["completion"] = json::object{{"values", json::array{name_ + ":" + what}}};
    } else if (method == "tools/call" && m["params"].as_object()["name"] == "ask") {
      asked_call = id;
      Emit(R"({"jsonrpc":"2.0","id":"up-ask","method":"sampling/createMessage","params":{"maxTokens":5}})");
      return;
    } else if (method == "tools/call" && m["params"].as_object()["name"] == "log") {
      Emit(R"({"jsonrpc":"2.0","method":"notifications/message","params":{"level":"info","data":"working"}})");
      result["content"] = json::array();
    } else if (method == "tools/call") {
      json::object params = m["params"].as_object();
      if (params.contains("_meta")) {
        json::value token = params["_meta"].as_object()["progressToken"];
        Emit(json::serialize(json::object{
            {"jsonrpc", "2.0"},
            {"method", "notifications/progress"},
            {"params", json::object{{"progressToken", token}, {"progress", 1}}}}));
      }
      std::string text = "Echo: ";
      text += std::string(params["arguments"].as_object()["message"].as_string());
      text += " from " + name_ + " as " + std::string(params["name"].as_string());
      result["content"] = json::array{json::object{{"type", "text"}, {"text", text}}};
    }
    Emit(json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", id}, {"result", result}}));
  }

  void Close() override { closed = true; }

  void Emit(std::string message) {
    asio::post(io_, [on = events_.on_message, message] { on(message); });
  }
  // A message from the runner's per-user or per-session process for `user` / `session`.
  void EmitScoped(std::string message, std::string user, std::string session) {
    asio::post(io_, [on = events_.on_scoped_message, message, user, session] {
      on(message, user, session);
    });
  }
  void Die(std::string reason) {
    asio::post(io_, [on = events_.on_closed, reason] { on(reason); });
  }

  std::vector<telemetry::TraceHeaders> traces;  // the trace context current at each Send
  std::vector<std::string> received;
  std::vector<std::string> extra_tools;      // listed after its own tools, on the first page
  std::vector<std::string> extra_resources;  // URIs listed (and readable) besides its own
  bool paged = false;
  bool silent = false;
  std::optional<json::value> asked_call;
  bool closed = false;

 private:
  asio::io_context& io_;
  std::string name_;
  UpstreamEvents events_;
};

class FakeFactory final : public UpstreamFactory {
 public:
  explicit FakeFactory(asio::io_context& io) : io_(io) {}
  std::shared_ptr<Upstream> Connect(const registry::v1::Server& server,
                                    UpstreamEvents events) override {
    auto up = std::make_shared<FakeUpstream>(io_, server.name(), std::move(events));
    up->extra_tools = tools_of[server.name()];
    up->extra_resources = resources_of[server.name()];
    upstreams[server.name()] = up;
    ++connects;
    return up;
  }
  std::map<std::string, std::shared_ptr<FakeUpstream>> upstreams;
  // What each server lists besides its own (see FakeUpstream), set before it connects.
  std::map<std::string, std::vector<std::string>> tools_of, resources_of;
  int connects = 0;

 private:
  asio::io_context& io_;
};

struct Frame {
  uint64_t call_id;
  std::string message;
  bool final;
};

class RecordingSink final : public ClientSink {
 public:
  void Send(uint64_t call_id, std::string message, bool final) override {
    frames.push_back({call_id, std::move(message), final});
  }
  void SendToSession(const std::string& session_id, std::string message) override {
    session_frames.emplace_back(session_id, std::move(message));
  }
  std::vector<Frame> frames;
  std::vector<std::pair<std::string, std::string>> session_frames;
};

class RouterServiceTest : public testing::Test {
 protected:
  RouterServiceTest() : factory_(io_) {
    registry::v1::Snapshot& s = snapshot_;
    for (const char* name : {"alpha", "beta", "gamma"}) {
      auto* server = s.add_servers();
      server->set_name(name);
      server->set_type("STDIO");
      server->set_command("unused");
    }
    auto* remote = s.add_servers();
    remote->set_name("remote");
    remote->set_type("STREAMABLE_HTTP");
    remote->set_url("http://127.0.0.1:1/mcp");
    auto* ns = s.add_namespaces();
    ns->set_name("team");
    ns->add_servers()->set_server("alpha");
    ns->add_servers()->set_server("beta");
    auto* off = ns->add_servers();
    off->set_server("gamma");
    off->set_disabled(true);
    auto* solo = s.add_namespaces();
    solo->set_name("solo");
    solo->set_disable_prefix(true);
    solo->add_servers()->set_server("alpha");
    auto* ep = s.add_endpoints();
    ep->set_name("team");
    ep->set_namespace_("team");
    auto* ep2 = s.add_endpoints();
    ep2->set_name("solo");
    ep2->set_namespace_("solo");
    auto* admin = s.add_users();
    admin->set_email("root@example.com");
    admin->set_is_admin(true);
    s.add_users()->set_email("ada@example.com");
    view_ = configwatch::ConfigView::FromSnapshot(s);
    service_ = std::make_unique<RouterService>(io_.get_executor(), [this] { return view_; },
                                               &factory_, options_);
  }

  void Send(const std::shared_ptr<RecordingSink>& sink, uint64_t call_id, std::string message,
            std::string endpoint = "team", std::string session = "s1") {
    v1::RouterRequest r;
    r.set_call_id(call_id);
    r.set_endpoint(std::move(endpoint));
    r.set_session_id(std::move(session));
    r.set_message(std::move(message));
    service_->Handle(sink, std::move(r));
    Drain();
  }

  // A 2026-07-28 request: no session, the client described in _meta.
  void SendStateless(const std::shared_ptr<RecordingSink>& sink, uint64_t call_id,
                     std::string message, std::string user = "ada@example.com") {
    v1::RouterRequest r;
    r.set_call_id(call_id);
    r.set_endpoint("team");
    r.set_protocol_version("2026-07-28");
    r.set_message(std::move(message));
    r.mutable_principal()->set_user_email(std::move(user));
    service_->Handle(sink, std::move(r));
    Drain();
  }

  static std::string StatelessCall(std::string_view id, std::string_view tool,
                                   std::string_view caps, std::string_view extra = "") {
    return StrCat(R"({"jsonrpc":"2.0","id":)", id, R"(,"method":"tools/call","params":{"name":")",
                  tool, R"(","arguments":{},)", extra,
                  R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",)",
                  R"("io.modelcontextprotocol/clientCapabilities":)", caps, "}}}");
  }

  // Rebuilds the service with the current options_ and view_.
  void Restart() {
    service_ = std::make_unique<RouterService>(
        io_.get_executor(), [this] { return view_; }, &factory_, options_);
  }

  // Makes snapshot_ (edited by `edit`) the configuration, as the registry's Watch would.
  void ChangeConfig(const std::function<void(registry::v1::Snapshot&)>& edit) {
    edit(snapshot_);
    snapshot_.set_revision(snapshot_.revision() + 1);
    view_ = configwatch::ConfigView::FromSnapshot(snapshot_);
    service_->OnConfigChange(view_);
    Drain();
  }

  // How many `method` requests `server` was sent.
  int Asked(const std::string& server, std::string_view method) {
    int n = 0;
    for (const std::string& m : factory_.upstreams[server]->received) {
      if (m.find(StrCat(R"("method":")", method, R"(")")) != std::string::npos) ++n;
    }
    return n;
  }

  static std::vector<std::string> Names(const json::object& result,
                                        std::string_view key = "tools") {
    std::vector<std::string> out;
    for (const json::value& v : result.at(key).as_array()) {
      out.emplace_back(v.as_object().at(key == "resources" ? "uri" : "name").as_string());
    }
    return out;
  }

  json::object Result(const std::shared_ptr<RecordingSink>& sink) {
    return Parse(sink->frames.back().message)["result"].as_object();
  }

  void Drain() {
    io_.restart();
    io_.poll();
  }

  static json::object Parse(const std::string& text) { return json::parse(text).as_object(); }

  asio::io_context io_;
  FakeFactory factory_;
  RouterOptions options_;
  registry::v1::Snapshot snapshot_;
  std::shared_ptr<const configwatch::ConfigView> view_;
  std::unique_ptr<RouterService> service_;
};

TEST_F(RouterServiceTest, InitializeNegotiatesVersionAndWarmsUpstreams) {
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
  ASSERT_EQ(sink->frames.size(), 1u);
  auto result = Parse(sink->frames[0].message)["result"].as_object();
  EXPECT_EQ(result["protocolVersion"].as_string(), "2025-06-18");
  EXPECT_TRUE(result["capabilities"].as_object().contains("tools"));
  EXPECT_EQ(factory_.connects, 2);  // alpha and beta; gamma is disabled

  Send(sink, 2, R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"1999-01-01"}})");
  EXPECT_EQ(Parse(sink->frames[1].message)["result"].as_object()["protocolVersion"].as_string(),
            RouterService::SupportedVersions().back());
}

TEST_F(RouterServiceTest, ToolsListMergesWithPrefixesInNamespaceOrder) {
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 7, R"({"jsonrpc":"2.0","id":"list-1","method":"tools/list"})");
  Drain();
  ASSERT_EQ(sink->frames.size(), 1u);
  EXPECT_EQ(sink->frames[0].call_id, 7u);
  EXPECT_TRUE(sink->frames[0].final);
  auto msg = Parse(sink->frames[0].message);
  EXPECT_EQ(msg["id"].as_string(), "list-1");
  auto tools = msg["result"].as_object()["tools"].as_array();
  ASSERT_EQ(tools.size(), 2u);
  EXPECT_EQ(tools[0].as_object().at("name").as_string(), "alpha__echo");
  EXPECT_EQ(tools[1].as_object().at("name").as_string(), "beta__echo");
}

TEST_F(RouterServiceTest, ToolsListFollowsUpstreamPages) {
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{}})");
  factory_.upstreams["alpha"]->paged = true;
  Send(sink, 2, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  Drain();
  auto tools = Parse(sink->frames.back().message)["result"].as_object()["tools"].as_array();
  ASSERT_EQ(tools.size(), 3u);
  EXPECT_EQ(tools[0].as_object().at("name").as_string(), "alpha__echo");
  EXPECT_EQ(tools[1].as_object().at("name").as_string(), "alpha__add");
  EXPECT_EQ(tools[2].as_object().at("name").as_string(), "beta__echo");
}

TEST_F(RouterServiceTest, SoloNamespaceWithoutPrefix) {
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})", "solo");
  Drain();
  auto tools = Parse(sink->frames[0].message)["result"].as_object()["tools"].as_array();
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].as_object().at("name").as_string(), "echo");
  Send(sink, 2, R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hi"}}})", "solo");
  Drain();
  EXPECT_THAT(sink->frames[1].message, testing::HasSubstr("Echo: hi from alpha as echo"));
}

TEST_F(RouterServiceTest, ToolCallRoutesAndRemapsIds) {
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  // Two clients use the same JSON-RPC id for calls to the same server.
  Send(a, 10, R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"beta__echo","arguments":{"message":"from-a"}}})", "team", "sa");
  Send(b, 20, R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"beta__echo","arguments":{"message":"from-b"}}})", "team", "sb");
  Drain();
  ASSERT_EQ(a->frames.size(), 1u);
  ASSERT_EQ(b->frames.size(), 1u);
  EXPECT_EQ(a->frames[0].call_id, 10u);
  EXPECT_EQ(b->frames[0].call_id, 20u);
  auto ra = Parse(a->frames[0].message);
  EXPECT_EQ(ra["id"].as_int64(), 1);
  EXPECT_THAT(a->frames[0].message, testing::HasSubstr("Echo: from-a from beta as echo"));
  EXPECT_THAT(b->frames[0].message, testing::HasSubstr("Echo: from-b from beta as echo"));
  auto& received = factory_.upstreams["beta"]->received;
  ASSERT_EQ(received.size(), 2u);
  EXPECT_NE(Parse(received[0])["id"], Parse(received[1])["id"]);
  EXPECT_FALSE(factory_.upstreams.count("alpha"));  // only the routed server was touched
}

TEST_F(RouterServiceTest, ProgressIsMappedAndStreamedBeforeTheResult) {
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 5, R"({"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"alpha__echo","arguments":{"message":"x"},"_meta":{"progressToken":"tok-1"}}})");
  Drain();
  ASSERT_EQ(sink->frames.size(), 2u);
  EXPECT_FALSE(sink->frames[0].final);
  auto progress = Parse(sink->frames[0].message);
  EXPECT_EQ(progress["params"].as_object()["progressToken"].as_string(), "tok-1");
  EXPECT_TRUE(sink->frames[1].final);
  auto upstream_call = Parse(factory_.upstreams["alpha"]->received[0]);
  EXPECT_TRUE(upstream_call["params"].as_object()["_meta"].as_object()["progressToken"].is_int64());
}

TEST_F(RouterServiceTest, UnknownToolsAreJsonRpcErrors) {
  auto sink = std::make_shared<RecordingSink>();
  for (const char* name : {"echo", "nosuch__echo", "gamma__echo", "remote__x"}) {
    sink->frames.clear();
    Send(sink, 1, std::string(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":")") + name + R"(","arguments":{}}})");
    ASSERT_EQ(sink->frames.size(), 1u) << name;
    auto err = Parse(sink->frames[0].message)["error"].as_object();
    EXPECT_EQ(err["code"].as_int64(), -32602) << name;
  }
  sink->frames.clear();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":4,"method":"no/such/method"})");
  EXPECT_EQ(Parse(sink->frames[0].message)["error"].as_object()["code"].as_int64(), -32601);
  sink->frames.clear();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":4,"method":"ping"})", "no-such-endpoint");
  EXPECT_EQ(sink->frames[0].message, R"({"jsonrpc":"2.0","id":4,"result":{}})");
}

TEST_F(RouterServiceTest, UpstreamLossFailsItsCalls) {
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{}})");
  factory_.upstreams["alpha"]->silent = true;
  Send(sink, 2, R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"alpha__echo","arguments":{"message":"x"}}})");
  factory_.upstreams["alpha"]->Die("runner went away");
  Drain();
  auto err = Parse(sink->frames.back().message);
  EXPECT_EQ(err["id"].as_int64(), 9);
  EXPECT_EQ(err["error"].as_object()["code"].as_int64(), jsonrpc::kUpstreamUnavailable);
  // The next call reconnects.
  Send(sink, 3, R"({"jsonrpc":"2.0","id":10,"method":"tools/call","params":{"name":"alpha__echo","arguments":{"message":"y"}}})");
  Drain();
  EXPECT_THAT(sink->frames.back().message, testing::HasSubstr("Echo: y"));
}

TEST_F(RouterServiceTest, TimeoutAnswersAndCancelsUpstream) {
  options_.request_timeout_ms = 20;
  service_ = std::make_unique<RouterService>(io_.get_executor(), [this] { return view_; },
                                             &factory_, options_);
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{}})");
  factory_.upstreams["alpha"]->silent = true;
  Send(sink, 2, R"({"jsonrpc":"2.0","id":"t","method":"tools/call","params":{"name":"alpha__echo","arguments":{}}})");
  io_.restart();
  io_.run_for(std::chrono::milliseconds(200));
  auto err = Parse(sink->frames.back().message);
  EXPECT_EQ(err["error"].as_object()["code"].as_int64(), jsonrpc::kUpstreamTimeout);
  EXPECT_THAT(factory_.upstreams["alpha"]->received.back(),
              testing::HasSubstr("notifications/cancelled"));
}

TEST_F(RouterServiceTest, ClientCancellationReachesUpstream) {
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{}})");
  factory_.upstreams["beta"]->silent = true;
  Send(sink, 2, R"({"jsonrpc":"2.0","id":77,"method":"tools/call","params":{"name":"beta__echo","arguments":{}}})");
  Send(sink, 3, R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":77}})");
  auto& received = factory_.upstreams["beta"]->received;
  ASSERT_EQ(received.size(), 2u);
  auto cancelled = Parse(received[1]);
  EXPECT_EQ(cancelled["method"].as_string(), "notifications/cancelled");
  EXPECT_EQ(cancelled["params"].as_object()["requestId"], Parse(received[0])["id"]);
  // Edge-side cancellation (the HTTP client went away) also reaches the upstream.
  Send(sink, 4, R"({"jsonrpc":"2.0","id":78,"method":"tools/call","params":{"name":"beta__echo","arguments":{}}})");
  v1::RouterRequest cancel;
  cancel.set_call_id(4);
  cancel.set_cancel(true);
  service_->Handle(sink, cancel);
  Drain();
  EXPECT_THAT(received.back(), testing::HasSubstr("notifications/cancelled"));
}

TEST_F(RouterServiceTest, ResourcesAreMergedWithoutRenamingAndRoutedByUri) {
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":1,"method":"resources/list"})");
  Drain();
  auto resources = Parse(sink->frames[0].message)["result"].as_object()["resources"].as_array();
  ASSERT_EQ(resources.size(), 2u);
  EXPECT_EQ(resources[1].as_object().at("uri").as_string(), "test://beta/r1");
  // A listed URI goes straight to its owner.
  Send(sink, 2, R"({"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"test://beta/r1"}})");
  Drain();
  EXPECT_THAT(sink->frames[1].message, testing::HasSubstr("from beta"));
  EXPECT_EQ(factory_.upstreams["alpha"]->received.size(), 1u);  // only its resources/list
}

TEST_F(RouterServiceTest, UnknownUriTriesServersInNamespaceOrder) {
  auto sink = std::make_shared<RecordingSink>();
  // Never listed: alpha says not found, beta has it.
  Send(sink, 1, R"({"jsonrpc":"2.0","id":"r","method":"resources/read","params":{"uri":"test://beta/other"}})");
  Drain();
  ASSERT_EQ(sink->frames.size(), 1u);
  auto msg = Parse(sink->frames[0].message);
  EXPECT_EQ(msg["id"].as_string(), "r");
  EXPECT_THAT(sink->frames[0].message, testing::HasSubstr("from beta"));
  // Nobody has it: the last server's error comes back.
  Send(sink, 2, R"({"jsonrpc":"2.0","id":"s","method":"resources/read","params":{"uri":"test://nobody"}})");
  Drain();
  EXPECT_EQ(Parse(sink->frames[1].message)["error"].as_object()["code"].as_int64(), -32002);
}

TEST_F(RouterServiceTest, TemplatesRouteByPrefix) {
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":1,"method":"resources/templates/list"})");
  Drain();
  auto templates = Parse(sink->frames[0].message)["result"].as_object()["resourceTemplates"].as_array();
  EXPECT_EQ(templates.size(), 2u);
  Send(sink, 2, R"({"jsonrpc":"2.0","id":2,"method":"completion/complete","params":{"ref":{"type":"ref/resource","uri":"tmpl://beta/{id}"},"argument":{"name":"id","value":"1"}}})");
  Drain();
  EXPECT_THAT(sink->frames[1].message, testing::HasSubstr("beta:tmpl://beta/{id}"));
}

TEST_F(RouterServiceTest, PromptCompletionIsRoutedByPrefixedName) {
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":1,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"alpha__greet"},"argument":{"name":"a","value":""}}})");
  Drain();
  EXPECT_THAT(sink->frames[0].message, testing::HasSubstr("alpha:greet"));
  Send(sink, 2, R"({"jsonrpc":"2.0","id":2,"method":"completion/complete","params":{"ref":{"type":"ref/prompt","name":"zeta__greet"},"argument":{"name":"a","value":""}}})");
  EXPECT_EQ(Parse(sink->frames[1].message)["error"].as_object()["code"].as_int64(), -32602);
}

TEST_F(RouterServiceTest, SetLevelReachesEveryServer) {
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"debug"}})");
  Drain();
  ASSERT_EQ(sink->frames.size(), 1u);  // answered once, upstream answers dropped
  EXPECT_EQ(sink->frames[0].message, R"({"jsonrpc":"2.0","id":1,"result":{}})");
  EXPECT_THAT(factory_.upstreams["alpha"]->received[0], testing::HasSubstr("logging/setLevel"));
  EXPECT_THAT(factory_.upstreams["beta"]->received[0], testing::HasSubstr("logging/setLevel"));
}

TEST_F(RouterServiceTest, ServerRequestsReachTheCallingClientAndItsAnswerReturns) {
  auto sink = std::make_shared<RecordingSink>();
  auto other = std::make_shared<RecordingSink>();
  Send(sink, 9, R"({"jsonrpc":"2.0","id":"c1","method":"tools/call","params":{"name":"alpha__ask","arguments":{}}})", "team", "s1");
  Drain();
  ASSERT_EQ(sink->frames.size(), 1u);
  EXPECT_FALSE(sink->frames[0].final);
  auto ask = Parse(sink->frames[0].message);
  EXPECT_EQ(ask["method"].as_string(), "sampling/createMessage");
  std::string relay_id(ask["id"].as_string());
  std::string answer = R"({"jsonrpc":"2.0","id":")" + relay_id +
                       R"(","result":{"role":"assistant","content":{"type":"text","text":"hi"}}})";
  // Another session cannot answer for this one.
  Send(other, 1, answer, "team", "s2");
  Drain();
  EXPECT_EQ(sink->frames.size(), 1u);
  Send(sink, 10, answer, "team", "s1");
  Drain();
  ASSERT_EQ(sink->frames.size(), 2u);
  EXPECT_TRUE(sink->frames[1].final);
  EXPECT_EQ(sink->frames[1].call_id, 9u);
  EXPECT_THAT(sink->frames[1].message, testing::HasSubstr("Sampled: hi"));
  EXPECT_EQ(Parse(sink->frames[1].message)["id"].as_string(), "c1");
  // The server saw its own request id again.
  EXPECT_THAT(factory_.upstreams["alpha"]->received.back(), testing::HasSubstr(R"("id":"up-ask")"));
}

TEST_F(RouterServiceTest, ServerRequestWithNoSingleCallerIsRefusedUpstream) {
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{}})");
  factory_.upstreams["alpha"]->Emit(R"({"jsonrpc":"2.0","id":"unasked","method":"roots/list"})");
  Drain();
  EXPECT_THAT(factory_.upstreams["alpha"]->received.back(), testing::HasSubstr(R"("id":"unasked","error")"));
  EXPECT_EQ(sink->frames.size(), 1u);
}

TEST_F(RouterServiceTest, LogMessagesGoToTheOnlyCallInFlight) {
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 4, R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"beta__log","arguments":{}}})");
  Drain();
  ASSERT_EQ(sink->frames.size(), 2u);
  EXPECT_FALSE(sink->frames[0].final);
  EXPECT_THAT(sink->frames[0].message, testing::HasSubstr("notifications/message"));
  EXPECT_TRUE(sink->frames[1].final);
}

TEST_F(RouterServiceTest, LogLevelsAreEachSessionsOwn) {
  auto quiet = std::make_shared<RecordingSink>();
  auto chatty = std::make_shared<RecordingSink>();
  Send(quiet, 1, R"({"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"error"}})", "team", "s1");
  EXPECT_THAT(factory_.upstreams["beta"]->received.back(), testing::HasSubstr(R"("level":"error")"));
  Send(chatty, 1, R"({"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"debug"}})", "team", "s2");
  // The shared server goes down to the lowest level any of its sessions wants.
  EXPECT_THAT(factory_.upstreams["beta"]->received.back(), testing::HasSubstr(R"("level":"debug")"));
  size_t sent = factory_.upstreams["beta"]->received.size();
  Send(quiet, 2, R"({"jsonrpc":"2.0","id":2,"method":"logging/setLevel","params":{"level":"error"}})", "team", "s1");
  EXPECT_EQ(factory_.upstreams["beta"]->received.size(), sent);  // nothing new to tell it

  // An info line during s1's call is below its level; during s2's it is shown.
  Send(quiet, 3, R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"beta__log","arguments":{}}})", "team", "s1");
  ASSERT_EQ(quiet->frames.size(), 3u);
  EXPECT_TRUE(quiet->frames[2].final);
  Send(chatty, 3, R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"beta__log","arguments":{}}})", "team", "s2");
  ASSERT_EQ(chatty->frames.size(), 3u);
  EXPECT_THAT(chatty->frames[1].message, testing::HasSubstr("notifications/message"));

  Send(quiet, 4, R"({"jsonrpc":"2.0","id":4,"method":"logging/setLevel","params":{"level":"loud"}})", "team", "s1");
  EXPECT_EQ(Parse(quiet->frames.back().message)["error"].as_object()["code"].as_int64(), -32602);
}

TEST_F(RouterServiceTest, StatelessDiscoverAndRemovedMethods) {
  auto sink = std::make_shared<RecordingSink>();
  SendStateless(sink, 1, R"({"jsonrpc":"2.0","id":1,"method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}})");
  ASSERT_EQ(sink->frames.size(), 1u);
  auto result = Parse(sink->frames[0].message)["result"].as_object();
  EXPECT_EQ(result["resultType"].as_string(), "complete");
  EXPECT_EQ(result["cacheScope"].as_string(), "private");
  EXPECT_EQ(result["supportedVersions"].as_array().back().as_string(), "2026-07-28");
  EXPECT_TRUE(result["capabilities"].as_object().contains("tools"));
  EXPECT_EQ(result["_meta"].as_object()["io.modelcontextprotocol/serverInfo"].as_object()["name"].as_string(),
            "switchboard");
  for (const char* method : {"initialize", "ping", "logging/setLevel"}) {
    SendStateless(sink, 2, StrCat(R"({"jsonrpc":"2.0","id":2,"method":")", method, R"(","params":{}})"));
    EXPECT_EQ(Parse(sink->frames.back().message)["error"].as_object()["code"].as_int64(), -32601)
        << method;
  }
  // A list is merged as for a session, and marked for the version.
  SendStateless(sink, 3, R"({"jsonrpc":"2.0","id":3,"method":"tools/list","params":{}})");
  auto list = Parse(sink->frames.back().message)["result"].as_object();
  EXPECT_EQ(list["resultType"].as_string(), "complete");
  EXPECT_EQ(list["ttlMs"].as_int64(), 0);
  EXPECT_EQ(list["tools"].as_array().size(), 2u);
  // No log line reaches a stateless client that asked for none.
  SendStateless(sink, 4, StatelessCall("4", "beta__log", "{}"));
  EXPECT_TRUE(sink->frames.back().final);
  EXPECT_EQ(Parse(sink->frames.back().message)["result"].as_object()["resultType"].as_string(),
            "complete");
  EXPECT_THAT(sink->frames.back().message, testing::Not(testing::HasSubstr("notifications/message")));
  EXPECT_EQ(sink->frames.size(), 6u);  // discover, three refusals, the list, the call
}

TEST_F(RouterServiceTest, StatelessServerQuestionNeedsTheDeclaredCapability) {
  auto sink = std::make_shared<RecordingSink>();
  SendStateless(sink, 1, StatelessCall("7", "alpha__ask", "{}"));
  ASSERT_EQ(sink->frames.size(), 1u);
  EXPECT_TRUE(sink->frames[0].final) << sink->frames[0].message;
  ASSERT_TRUE(Parse(sink->frames[0].message).contains("error")) << sink->frames[0].message;
  auto error = Parse(sink->frames[0].message)["error"].as_object();
  EXPECT_EQ(error["code"].as_int64(), -32021);
  EXPECT_TRUE(error["data"].as_object()["requiredCapabilities"].as_object().contains("sampling"));
  // The server was told no, and that the call is off.
  const auto& received = factory_.upstreams["alpha"]->received;
  ASSERT_GE(received.size(), 3u);
  EXPECT_THAT(received[received.size() - 2], testing::HasSubstr(R"("id":"up-ask","error")"));
  EXPECT_THAT(received.back(), testing::HasSubstr("notifications/cancelled"));
}

TEST_F(RouterServiceTest, StatelessServerQuestionBecomesInputRequiredAndTheRetryAnswersIt) {
  auto sink = std::make_shared<RecordingSink>();
  SendStateless(sink, 1, StatelessCall("7", "alpha__ask", R"({"sampling":{}})"));
  ASSERT_EQ(sink->frames.size(), 1u);
  EXPECT_TRUE(sink->frames[0].final);
  auto asked = Parse(sink->frames[0].message)["result"].as_object();
  EXPECT_EQ(asked["resultType"].as_string(), "input_required");
  const auto& requests = asked["inputRequests"].as_object();
  ASSERT_EQ(requests.size(), 1u);
  std::string key(requests.begin()->key());
  EXPECT_EQ(requests.begin()->value().as_object().at("method").as_string(), "sampling/createMessage");
  std::string state(asked["requestState"].as_string());
  std::string answer = StrCat(R"("requestState":")", state, R"(","inputResponses":{")", key,
                              R"(":{"role":"assistant","content":{"type":"text","text":"hi"}}},)");

  // Someone else holding the state cannot answer, and a made-up state is refused.
  SendStateless(sink, 2, StatelessCall("8", "alpha__ask", R"({"sampling":{}})", answer), "eve@example.com");
  EXPECT_EQ(Parse(sink->frames.back().message)["error"].as_object()["code"].as_int64(), -32602);
  std::string forged = answer;
  forged.replace(forged.find(state), state.size(), state.substr(0, state.size() - 1) + "0");
  if (forged != answer) {
    SendStateless(sink, 3, StatelessCall("9", "alpha__ask", R"({"sampling":{}})", forged));
    EXPECT_EQ(Parse(sink->frames.back().message)["error"].as_object()["code"].as_int64(), -32602);
  }
  // A retry without the answer is asked again.
  SendStateless(sink, 4, StatelessCall("10", "alpha__ask", R"({"sampling":{}})",
                                       StrCat(R"("requestState":")", state, R"(",)")));
  EXPECT_EQ(Parse(sink->frames.back().message)["result"].as_object()["resultType"].as_string(),
            "input_required");

  // The caller's retry with the answer completes the parked call, under the retry's id.
  SendStateless(sink, 5, StatelessCall("11", "alpha__ask", R"({"sampling":{}})", answer));
  const auto& done = sink->frames.back();
  EXPECT_EQ(done.call_id, 5u);
  EXPECT_TRUE(done.final);
  auto result = Parse(done.message);
  EXPECT_EQ(result["id"].as_int64(), 11);
  EXPECT_EQ(result["result"].as_object()["resultType"].as_string(), "complete");
  EXPECT_THAT(done.message, testing::HasSubstr("Sampled: hi"));
  EXPECT_THAT(factory_.upstreams["alpha"]->received.back(), testing::HasSubstr(R"("id":"up-ask")"));
  // The state is spent.
  SendStateless(sink, 6, StatelessCall("12", "alpha__ask", R"({"sampling":{}})", answer));
  EXPECT_EQ(Parse(sink->frames.back().message)["error"].as_object()["code"].as_int64(), -32602);
}

TEST_F(RouterServiceTest, ListChangedReachesEverySessionThatSeesTheServer) {
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  Send(a, 1, R"({"jsonrpc":"2.0","method":"notifications/initialized"})", "team", "sa");
  Send(b, 1, R"({"jsonrpc":"2.0","method":"notifications/initialized"})", "solo", "sb");
  Send(a, 2, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})", "team", "sa");
  Drain();
  factory_.upstreams["beta"]->Emit(R"({"jsonrpc":"2.0","method":"notifications/tools/list_changed"})");
  Drain();
  // beta is in "team" only: session sa hears it, sb (namespace "solo" = alpha) does not.
  ASSERT_EQ(a->session_frames.size(), 1u);
  EXPECT_EQ(a->session_frames[0].first, "sa");
  EXPECT_THAT(a->session_frames[0].second, testing::HasSubstr("tools/list_changed"));
  EXPECT_TRUE(b->session_frames.empty());
  factory_.upstreams["alpha"]->Emit(R"({"jsonrpc":"2.0","method":"notifications/prompts/list_changed"})");
  Drain();
  // alpha is in both namespaces: both sessions hear it.
  EXPECT_EQ(a->session_frames.size(), 2u);
  ASSERT_EQ(b->session_frames.size(), 1u);
  EXPECT_EQ(b->session_frames[0].first, "sb");
}

TEST_F(RouterServiceTest, APerUserOrPerSessionProcessSpeaksOnlyToItsOwnSessions) {
  auto sink = std::make_shared<RecordingSink>();
  auto send_as = [&](const std::string& session, const std::string& user, uint64_t call_id,
                     std::string message =
                         R"({"jsonrpc":"2.0","method":"notifications/initialized"})") {
    v1::RouterRequest r;
    r.set_call_id(call_id);
    r.set_endpoint("team");
    r.set_session_id(session);
    r.set_message(std::move(message));
    r.mutable_principal()->set_user_email(user);
    service_->Handle(sink, r);
    Drain();
  };
  send_as("ada-1", "ada@example.com", 1);
  send_as("ada-2", "ada@example.com", 2);
  send_as("bob-1", "bob@example.com", 3);
  send_as("ada-1", "ada@example.com", 4, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  const std::string changed = R"({"jsonrpc":"2.0","method":"notifications/tools/list_changed"})";
  auto heard = [&] {
    std::set<std::string> out;
    for (const auto& [session, message] : sink->session_frames) out.insert(session);
    sink->session_frames.clear();
    return out;
  };
  // Ada's process: both of Ada's sessions hear it, Bob's does not.
  factory_.upstreams["beta"]->EmitScoped(changed, "ada@example.com", "");
  Drain();
  EXPECT_EQ(heard(), (std::set<std::string>{"ada-1", "ada-2"}));
  // A per-session process: that session alone.
  factory_.upstreams["beta"]->EmitScoped(changed, "bob@example.com", "bob-1");
  Drain();
  EXPECT_EQ(heard(), (std::set<std::string>{"bob-1"}));
  // A shared process: everyone who sees the server.
  factory_.upstreams["beta"]->Emit(changed);
  Drain();
  EXPECT_EQ(heard(), (std::set<std::string>{"ada-1", "ada-2", "bob-1"}));
}

TEST_F(RouterServiceTest, ResourceUpdatesGoOnlyToSubscribers) {
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  Send(a, 1, R"({"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"test://alpha/r1"}})", "team", "sa");
  Send(b, 1, R"({"jsonrpc":"2.0","method":"notifications/initialized"})", "team", "sb");
  Drain();
  factory_.upstreams["alpha"]->Emit(R"({"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"test://alpha/r1"}})");
  Drain();
  ASSERT_EQ(a->session_frames.size(), 1u);
  EXPECT_TRUE(b->session_frames.empty());
  Send(a, 2, R"({"jsonrpc":"2.0","id":2,"method":"resources/unsubscribe","params":{"uri":"test://alpha/r1"}})", "team", "sa");
  Drain();
  factory_.upstreams["alpha"]->Emit(R"({"jsonrpc":"2.0","method":"notifications/resources/updated","params":{"uri":"test://alpha/r1"}})");
  Drain();
  EXPECT_EQ(a->session_frames.size(), 1u);
}

TEST_F(RouterServiceTest, MergedListsArePagedWithTheRoutersOwnCursor) {
  options_.list_page_size = 1;
  Restart();
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{}})");
  factory_.upstreams["alpha"]->paged = true;  // alpha: echo, add (two upstream pages); beta: echo
  std::vector<std::string> seen;
  std::vector<std::string> cursors;
  std::string params = "{}";
  for (int page = 0; page < 5; ++page) {
    Send(sink, 2,
         StrCat(R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":)", params, "}"));
    json::object result = Result(sink);
    for (const std::string& name : Names(result)) seen.push_back(name);
    if (!result.contains("nextCursor")) break;
    cursors.emplace_back(result["nextCursor"].as_string());
    params = StrCat(R"({"cursor":)", jsonrpc::EncodeString(cursors.back()), "}");
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"alpha__echo", "alpha__add", "beta__echo"}));
  ASSERT_EQ(cursors.size(), 2u);
  // Pages come from the cache: each server was asked once (alpha's two pages, beta's one).
  EXPECT_EQ(Asked("alpha", "tools/list"), 2);
  EXPECT_EQ(Asked("beta", "tools/list"), 1);
  // A cursor is a position: the same cursor gives the same page again.
  Send(sink, 3,
       StrCat(R"({"jsonrpc":"2.0","id":2,"method":"tools/list","params":{"cursor":)",
              jsonrpc::EncodeString(cursors[0]), "}}"));
  EXPECT_EQ(Names(Result(sink)), (std::vector<std::string>{"alpha__add"}));
  // A cursor of another list, an altered one, or one never handed out.
  for (std::string bad :
       {cursors[0].substr(0, cursors[0].size() - 2), std::string("page2"), std::string("")}) {
    Send(sink, 4,
         StrCat(R"({"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"cursor":)",
                jsonrpc::EncodeString(bad), "}}"));
    auto error = Parse(sink->frames.back().message)["error"].as_object();
    EXPECT_EQ(error["code"].as_int64(), -32602) << bad;
    EXPECT_EQ(error["message"].as_string(), "Invalid cursor");
  }
  Send(sink, 5,
       StrCat(R"({"jsonrpc":"2.0","id":4,"method":"prompts/list","params":{"cursor":)",
              jsonrpc::EncodeString(cursors[0]), "}}"));
  EXPECT_EQ(Parse(sink->frames.back().message)["error"].as_object()["code"].as_int64(), -32602);
  // Resources page the same way.
  Send(sink, 6, R"({"jsonrpc":"2.0","id":5,"method":"resources/list"})");
  EXPECT_EQ(Names(Result(sink), "resources"), (std::vector<std::string>{"test://alpha/r1"}));
  EXPECT_TRUE(Result(sink).contains("nextCursor"));
}

TEST_F(RouterServiceTest, ListsAreCachedPerServerUntilTheServerSaysTheyChanged) {
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  Send(a, 1, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})", "team", "sa");
  // Another session, another namespace holding alpha: served from the same cache.
  Send(b, 1, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})", "solo", "sb");
  Send(a, 2, R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", "team", "sa");
  EXPECT_EQ(Names(Result(a)), (std::vector<std::string>{"alpha__echo", "beta__echo"}));
  EXPECT_EQ(Names(Result(b)), (std::vector<std::string>{"echo"}));
  EXPECT_EQ(Asked("alpha", "tools/list"), 1);
  EXPECT_EQ(Asked("beta", "tools/list"), 1);
  // Two lists at once while nothing is cached share one upstream call.
  factory_.upstreams["alpha"]->Emit(
      R"({"jsonrpc":"2.0","method":"notifications/tools/list_changed"})");
  Drain();
  v1::RouterRequest r;
  r.set_call_id(3);
  r.set_endpoint("team");
  r.set_session_id("sa");
  r.set_message(R"({"jsonrpc":"2.0","id":3,"method":"tools/list"})");
  service_->Handle(a, r);
  r.set_call_id(4);
  service_->Handle(a, r);
  Drain();
  EXPECT_EQ(Asked("alpha", "tools/list"), 2);  // asked again after list_changed, once
  EXPECT_EQ(Asked("beta", "tools/list"), 1);   // still cached
  EXPECT_EQ(Names(Result(a)), (std::vector<std::string>{"alpha__echo", "beta__echo"}));
  // Prompts have their own cache and notification.
  Send(a, 5, R"({"jsonrpc":"2.0","id":5,"method":"prompts/list"})", "team", "sa");
  factory_.upstreams["beta"]->Emit(
      R"({"jsonrpc":"2.0","method":"notifications/prompts/list_changed"})");
  Drain();
  Send(a, 6, R"({"jsonrpc":"2.0","id":6,"method":"prompts/list"})", "team", "sa");
  EXPECT_EQ(Asked("alpha", "prompts/list"), 1);
  EXPECT_EQ(Asked("beta", "prompts/list"), 2);
  EXPECT_EQ(Asked("beta", "tools/list"), 1);
}

TEST_F(RouterServiceTest, ACancelledListLeavesTheSharedUpstreamCallToTheOthers) {
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  Send(a, 1, R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{}})", "team", "sa");
  factory_.upstreams["beta"]->silent = true;
  Send(a, 2, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})", "team", "sa");
  Send(b, 2, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})", "team", "sb");
  ASSERT_EQ(Asked("beta", "tools/list"), 1);
  Send(a, 3, R"({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}})",
       "team", "sa");
  EXPECT_EQ(Parse(a->frames.back().message)["error"].as_object()["code"].as_int64(), -32800);
  size_t a_frames = a->frames.size();
  // beta answers late: the other session's list completes, the cancelled one stays answered.
  json::value id = Parse(factory_.upstreams["beta"]->received.back())["id"];
  factory_.upstreams["beta"]->Emit(json::serialize(json::object{
      {"jsonrpc", "2.0"},
      {"id", id},
      {"result", json::object{{"tools", json::array{json::object{{"name", "echo"}}}}}}}));
  Drain();
  EXPECT_EQ(a->frames.size(), a_frames);
  EXPECT_EQ(Names(Result(b)), (std::vector<std::string>{"alpha__echo", "beta__echo"}));
  EXPECT_EQ(b->frames.back().call_id, 2u);
}

TEST_F(RouterServiceTest, ToolOverridesRenameDescribeAndHide) {
  auto* say = snapshot_.add_tool_overrides();
  say->set_namespace_("team");
  say->set_server("alpha");
  say->set_tool("echo");
  say->set_name("say");
  say->set_title("Say it");
  say->set_description("Repeats you");
  say->set_annotations(R"({"readOnlyHint":true})");
  auto* hidden = snapshot_.add_tool_overrides();
  hidden->set_namespace_("team");
  hidden->set_server("beta");
  hidden->set_tool("echo");
  hidden->set_disabled(true);
  view_ = configwatch::ConfigView::FromSnapshot(snapshot_);
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  json::array tools = Result(sink)["tools"].as_array();
  ASSERT_EQ(tools.size(), 1u);
  json::object tool = tools[0].as_object();
  EXPECT_EQ(tool["name"].as_string(), "say");
  EXPECT_EQ(tool["title"].as_string(), "Say it");
  EXPECT_EQ(tool["description"].as_string(), "Repeats you");
  EXPECT_EQ(tool["annotations"].as_object()["readOnlyHint"].as_bool(), true);
  // The new name reaches the upstream tool under its own name.
  Send(
      sink, 2,
      R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"say","arguments":{"message":"hi"}}})");
  EXPECT_THAT(sink->frames.back().message, testing::HasSubstr("Echo: hi from alpha as echo"));
  // Neither the old name of a renamed tool nor a hidden tool can be called.
  for (const char* name : {"alpha__echo", "beta__echo"}) {
    Send(sink, 3,
         StrCat(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":")", name,
                R"(","arguments":{"message":"x"}}})"));
    auto error = Parse(sink->frames.back().message)["error"].as_object();
    EXPECT_EQ(error["code"].as_int64(), -32602) << name;
    EXPECT_EQ(error["message"].as_string(), StrCat("Unknown tool: ", name));
  }
  EXPECT_EQ(Asked("beta", "tools/call"), 0);
  // Another namespace holding alpha is not affected.
  Send(sink, 4, R"({"jsonrpc":"2.0","id":4,"method":"tools/list"})", "solo");
  EXPECT_EQ(Names(Result(sink)), (std::vector<std::string>{"echo"}));
}

TEST_F(RouterServiceTest, AKeyShownByAnEarlierServerHidesLaterOnesOnEveryPage) {
  std::vector<std::pair<std::string, std::vector<std::string>>> seen;
  options_.tools_seen = [&](const std::string& server, std::vector<std::string> tools) {
    seen.emplace_back(server, std::move(tools));
  };
  options_.list_page_size = 1;
  Restart();
  std::string long_name(127, 'x');
  factory_.resources_of["alpha"] = {"shared://doc"};
  factory_.resources_of["beta"] = {"shared://doc"};
  factory_.tools_of["beta"] = {long_name};
  // alpha's echo renamed to what beta's echo is called: alpha, first in the namespace, wins.
  auto* clash = snapshot_.add_tool_overrides();
  clash->set_namespace_("team");
  clash->set_server("alpha");
  clash->set_tool("echo");
  clash->set_name("beta__echo");
  view_ = configwatch::ConfigView::FromSnapshot(snapshot_);
  auto sink = std::make_shared<RecordingSink>();

  // Page by page, each URI once: beta's copy of shared://doc is left out on every page.
  std::vector<std::string> uris;
  std::string cursor;
  for (int page = 0; page < 10; ++page) {
    std::string params = cursor.empty() ? "{}" : StrCat(R"({"cursor":")", cursor, R"("})");
    Send(sink, 10 + page,
         StrCat(R"({"jsonrpc":"2.0","id":1,"method":"resources/list","params":)", params, "}"));
    json::object result = Result(sink);
    for (const std::string& uri : Names(result, "resources")) uris.push_back(uri);
    if (!result.contains("nextCursor")) break;
    cursor = std::string(result["nextCursor"].as_string());
  }
  EXPECT_EQ(uris, (std::vector<std::string>{"test://alpha/r1", "shared://doc", "test://beta/r1"}));
  // And the URI reads from the server whose resource the list showed.
  Send(sink, 30,
       R"({"jsonrpc":"2.0","id":2,"method":"resources/read","params":{"uri":"shared://doc"}})");
  EXPECT_THAT(sink->frames.back().message, testing::HasSubstr("from alpha"));

  options_.list_page_size = 100;
  std::vector<std::string> tools;
  Restart();
  Send(sink, 31, R"({"jsonrpc":"2.0","id":3,"method":"tools/list"})");
  // beta__echo is alpha's (renamed); beta's own and its over-long tool are left out.
  EXPECT_EQ(Names(Result(sink)), (std::vector<std::string>{"beta__echo"}));
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].first, "beta");
  EXPECT_EQ(seen[1].second, (std::vector<std::string>{"echo", long_name}));
  // Listing again reports nothing new: the names did not change.
  Send(sink, 32, R"({"jsonrpc":"2.0","id":4,"method":"tools/list"})");
  EXPECT_EQ(seen.size(), 2u);

  v1::RouterRequest r;
  r.set_call_id(33);
  r.set_endpoint("team");
  r.set_message(R"({"jsonrpc":"2.0","id":9,"method":"switchboard/status"})");
  r.mutable_principal()->set_user_email("root@example.com");
  service_->Handle(sink, r);
  Drain();
  std::string status = json::serialize(Result(sink)["hidden"]);
  EXPECT_THAT(status, testing::HasSubstr(R"("item":"name 'beta__echo'")"));
  EXPECT_THAT(status, testing::HasSubstr("shown by an earlier server of the namespace"));
  EXPECT_THAT(status, testing::HasSubstr("133 characters, over MCP's 128"));
}

TEST_F(RouterServiceTest, SilentUpstreamYieldsAPartialListAndShowsInTheStatus) {
  options_.list_timeout_ms = 20;
  Restart();
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 1, R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{}})");
  factory_.upstreams["beta"]->silent = true;
  Send(sink, 2, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
  EXPECT_EQ(sink->frames.size(), 1u);  // waiting for beta
  io_.restart();
  io_.run_for(std::chrono::milliseconds(200));
  ASSERT_EQ(sink->frames.size(), 2u);
  EXPECT_EQ(Names(Result(sink)), (std::vector<std::string>{"alpha__echo"}));

  // Only an administrator may read the status.
  v1::RouterRequest r;
  r.set_call_id(3);
  r.set_endpoint("team");
  r.set_message(R"({"jsonrpc":"2.0","id":9,"method":"switchboard/status"})");
  r.mutable_principal()->set_user_email("ada@example.com");
  service_->Handle(sink, r);
  Drain();
  EXPECT_EQ(Parse(sink->frames.back().message)["error"].as_object()["code"].as_int64(), -32601);
  r.mutable_principal()->set_user_email("root@example.com");
  service_->Handle(sink, r);
  Drain();
  json::object status = Result(sink);
  EXPECT_EQ(status["revision"].as_int64(), snapshot_.revision());
  json::object servers = status["servers"].as_object();
  json::object alpha = servers["alpha"].as_object()["lists"].as_object()["tools/list"].as_object();
  EXPECT_TRUE(alpha["cached"].as_bool());
  EXPECT_EQ(alpha["last"].as_object()["outcome"].as_string(), "ok");
  EXPECT_EQ(alpha["last"].as_object()["count"].as_int64(), 1);
  EXPECT_GT(alpha["last"].as_object()["at_unix_ms"].as_int64(), 0);
  json::object beta = servers["beta"].as_object()["lists"].as_object()["tools/list"].as_object();
  EXPECT_FALSE(beta["cached"].as_bool());
  EXPECT_EQ(beta["last"].as_object()["outcome"].as_string(), "timeout");
  EXPECT_TRUE(servers["beta"].as_object()["connected"].as_bool());
  // A failed list is not cached: the next list asks beta again.
  factory_.upstreams["beta"]->silent = false;
  Send(sink, 4, R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})");
  EXPECT_EQ(Names(Result(sink)), (std::vector<std::string>{"alpha__echo", "beta__echo"}));
  EXPECT_EQ(Asked("alpha", "tools/list"), 1);
}

TEST_F(RouterServiceTest, ConfigChangesTellTheSessionsOfChangedNamespaces) {
  auto a = std::make_shared<RecordingSink>();
  auto b = std::make_shared<RecordingSink>();
  Send(a, 1, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})", "team", "sa");
  Send(b, 1, R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})", "solo", "sb");
  auto methods = [](const std::shared_ptr<RecordingSink>& sink) {
    std::vector<std::string> out;
    for (const auto& [session, message] : sink->session_frames) {
      out.push_back(StrCat(session, " ", Parse(message)["method"].as_string()));
    }
    sink->session_frames.clear();
    return out;
  };
  // Nothing that changes a namespace's lists: nobody is told.
  ChangeConfig([](registry::v1::Snapshot& s) { s.mutable_namespaces(0)->set_description("x"); });
  EXPECT_TRUE(methods(a).empty());
  EXPECT_TRUE(methods(b).empty());
  // An override in "team": its sessions hear about tools; the list shows it from the cache.
  ChangeConfig([](registry::v1::Snapshot& s) {
    auto* o = s.add_tool_overrides();
    o->set_namespace_("team");
    o->set_server("beta");
    o->set_tool("echo");
    o->set_name("beta_echo2");
  });
  EXPECT_EQ(methods(a), (std::vector<std::string>{"sa notifications/tools/list_changed"}));
  EXPECT_TRUE(methods(b).empty());
  Send(a, 2, R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", "team", "sa");
  EXPECT_EQ(Names(Result(a)), (std::vector<std::string>{"alpha__echo", "beta_echo2"}));
  EXPECT_EQ(Asked("beta", "tools/list"), 1);
  // A server disabled in "team": every list of its sessions changed.
  ChangeConfig([](registry::v1::Snapshot& s) {
    s.mutable_namespaces(0)->mutable_servers(1)->set_disabled(true);
  });
  EXPECT_EQ(methods(a), (std::vector<std::string>{"sa notifications/tools/list_changed",
                                                  "sa notifications/prompts/list_changed",
                                                  "sa notifications/resources/list_changed"}));
  EXPECT_TRUE(methods(b).empty());
  Send(a, 3, R"({"jsonrpc":"2.0","id":3,"method":"tools/list"})", "team", "sa");
  EXPECT_EQ(Names(Result(a)), (std::vector<std::string>{"alpha__echo"}));
  // alpha reached differently: both namespaces hear it, and alpha is reconnected and re-asked.
  auto old_alpha = factory_.upstreams["alpha"];
  ChangeConfig([](registry::v1::Snapshot& s) { s.mutable_servers(0)->add_args("--new"); });
  EXPECT_EQ(methods(a).size(), 3u);
  EXPECT_EQ(methods(b).size(), 3u);
  EXPECT_TRUE(old_alpha->closed);
  Send(b, 2, R"({"jsonrpc":"2.0","id":2,"method":"tools/list"})", "solo", "sb");
  EXPECT_EQ(Names(Result(b)), (std::vector<std::string>{"echo"}));
  EXPECT_NE(factory_.upstreams["alpha"], old_alpha);
  EXPECT_EQ(Asked("alpha", "tools/list"), 1);  // the new connection was asked
}

TEST_F(RouterServiceTest, MalformedMessagesGetJsonRpcErrors) {
  auto sink = std::make_shared<RecordingSink>();
  Send(sink, 1, "{not json");
  EXPECT_EQ(Parse(sink->frames[0].message)["error"].as_object()["code"].as_int64(), -32700);
}

}  // namespace
}  // namespace switchboard::router

namespace switchboard::router {
namespace {

TEST_F(RouterServiceTest, TheCallersTraceContextReachesTheUpstream) {
  auto sink = std::make_shared<RecordingSink>();
  v1::RouterRequest r;
  r.set_call_id(7);
  r.set_endpoint("team");
  r.set_session_id("s1");
  r.set_message(
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"beta__echo","arguments":{"message":"m"}}})");
  r.set_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  r.set_baggage("tier=gold");
  service_->Handle(sink, std::move(r));
  Drain();
  ASSERT_EQ(sink->frames.size(), 1u);
  auto& beta = *factory_.upstreams["beta"];
  ASSERT_EQ(beta.traces.size(), 1u);
  // Tracing is off in this process: the caller's context goes on as it came.
  EXPECT_EQ(beta.traces[0].traceparent, "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(beta.traces[0].baggage, "tier=gold");
  // An untraced call sends none, and nothing stays current after a call.
  Send(
      sink, 8,
      R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"beta__echo","arguments":{"message":"m"}}})");
  ASSERT_EQ(beta.traces.size(), 2u);
  EXPECT_TRUE(beta.traces[1].empty());
  EXPECT_EQ(telemetry::CurrentContext(), nullptr);
}

}  // namespace
}  // namespace switchboard::router

namespace switchboard::router {
namespace {

// The edge's calls over a wire connection (ServeExchange): answers come back on it, and a
// connection that goes away cancels its calls upstream, as a broken Exchange stream does.
TEST_F(RouterServiceTest, WireConnectionsCarryCallsAndTheirLossCancelsThem) {
  auto listener = ServeExchange(io_.get_executor(), "127.0.0.1:0", service_.get());
  ASSERT_TRUE(listener.ok()) << listener.status();
  asio::io_context client_io;
  std::shared_ptr<wire::Connection> edge = wire::Connection::Connect(
      client_io.get_executor(), "127.0.0.1:" + std::to_string((*listener)->port()),
      wire::kRouterExchange, 2000);
  // Both ends on this thread: the router's io_ and the edge's client_io take turns.
  auto turn = [&] {
    io_.restart();
    io_.run_for(std::chrono::milliseconds(5));
    client_io.restart();
    client_io.run_for(std::chrono::milliseconds(5));
  };
  std::vector<v1::RouterResponse> responses;
  edge->Start(
      [&](std::string_view frame) {
        v1::RouterResponse r;
        ASSERT_TRUE(r.ParseFromArray(frame.data(), static_cast<int>(frame.size())));
        responses.push_back(std::move(r));
      },
      [](absl::Status) {});
  auto request = [&](uint64_t call_id, std::string message) {
    v1::RouterRequest r;
    r.set_call_id(call_id);
    r.set_endpoint("team");
    r.set_session_id("s1");
    r.set_message(std::move(message));
    edge->Send(r);
  };
  request(1, R"({"jsonrpc":"2.0","id":0,"method":"initialize","params":{}})");
  for (int i = 0; i < 400 && responses.empty(); ++i) turn();
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].call_id(), 1u);
  EXPECT_TRUE(responses[0].final());
  EXPECT_TRUE(Parse(responses[0].message())["result"].as_object().contains("protocolVersion"));

  factory_.upstreams["beta"]->silent = true;
  request(2, R"({"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"beta__echo","arguments":{}}})");
  auto& received = factory_.upstreams["beta"]->received;
  for (int i = 0; i < 400 && received.empty(); ++i) turn();
  ASSERT_EQ(received.size(), 1u);
  edge->Close();
  for (int i = 0; i < 400 && received.size() < 2; ++i) turn();
  ASSERT_EQ(received.size(), 2u);
  EXPECT_THAT(received[1], testing::HasSubstr("notifications/cancelled"));
  (*listener)->Stop();
  turn();
}

}  // namespace
}  // namespace switchboard::router
