#include "services/runner/src/runner_service.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "switchboard/common/strings.h"
#include "switchboard/jsonrpc/message.h"

namespace switchboard::runner {
namespace {

constexpr auto kWait = std::chrono::seconds(15);

// Records what the runner sends to one attachment and lets the test wait for it.
class RecordingSink final : public AttachmentSink {
 public:
  void OnOpened(std::string_view initialize_result, int64_t pid) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++opened_count_;
    messages_before_open_ = messages_.size();
    init_result_ = std::string(initialize_result);
    pid_ = pid;
    cv_.notify_all();
  }
  void OnMessage(std::string message) override {
    std::lock_guard<std::mutex> lock(mu_);
    messages_.push_back(std::move(message));
    cv_.notify_all();
  }
  void OnClosed(absl::Status status) override {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = status;
    cv_.notify_all();
  }
  void OnRoutedMessage(std::string message, std::string_view user,
                       std::string_view session) override {
    std::lock_guard<std::mutex> lock(mu_);
    routed_.push_back(StrCat(user, "/", session));
    messages_.push_back(std::move(message));
    cv_.notify_all();
  }
  // "user/session" of each routed message received so far.
  std::vector<std::string> Routed() {
    std::lock_guard<std::mutex> lock(mu_);
    return routed_;
  }

  // Waits for OnOpened; false when the attachment was closed instead or nothing came.
  bool WaitOpened() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, kWait, [&] { return opened_count_ > 0 || closed_.has_value(); });
    return opened_count_ > 0;
  }
  std::optional<absl::Status> WaitClosed() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, kWait, [&] { return closed_.has_value(); });
    return closed_;
  }
  // Waits for a message that satisfies `pred` and returns it.
  std::optional<std::string> WaitFor(const std::function<bool(const std::string&)>& pred,
                                     std::chrono::milliseconds timeout = kWait) {
    std::unique_lock<std::mutex> lock(mu_);
    std::optional<std::string> found;
    cv_.wait_for(lock, timeout, [&] {
      for (const std::string& m : messages_) {
        if (pred(m)) {
          found = m;
          return true;
        }
      }
      return false;
    });
    return found;
  }
  // Waits for the response whose raw id is `raw_id`.
  std::optional<std::string> WaitResponse(std::string_view raw_id) {
    return WaitFor([raw_id](const std::string& m) {
      jsonrpc::Envelope env;
      jsonrpc::ScanError err;
      return jsonrpc::Scan(m, &env, &err) && env.kind == jsonrpc::Kind::kResponse &&
             env.id.In(m) == raw_id;
    });
  }
  // Messages (notifications) whose method is `method`, received so far.
  std::vector<boost::json::value> Notifications(std::string_view method) {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<boost::json::value> out;
    for (const std::string& m : messages_) {
      boost::json::value v = boost::json::parse(m);
      const boost::json::value* mm = v.as_object().if_contains("method");
      if (mm != nullptr && mm->is_string() && std::string_view(mm->as_string()) == method) {
        out.push_back(std::move(v));
      }
    }
    return out;
  }
  std::vector<std::string> Messages() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_;
  }
  int64_t pid() {
    std::lock_guard<std::mutex> lock(mu_);
    return pid_;
  }
  std::string init_result() {
    std::lock_guard<std::mutex> lock(mu_);
    return init_result_;
  }
  int opened_count() {
    std::lock_guard<std::mutex> lock(mu_);
    return opened_count_;
  }
  size_t messages_before_open() {
    std::lock_guard<std::mutex> lock(mu_);
    return messages_before_open_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int opened_count_ = 0;
  size_t messages_before_open_ = 0;
  std::string init_result_;
  int64_t pid_ = 0;
  std::vector<std::string> messages_;
  std::optional<absl::Status> closed_;
  std::vector<std::string> routed_;
};

struct Attached {
  std::shared_ptr<RecordingSink> sink;
  std::unique_ptr<Attachment> attachment;

  void Send(std::string message) { attachment->Send(std::move(message)); }
  void SendFor(std::string message, std::string user, std::string session) {
    attachment->Send(std::move(message), RouteContext{std::move(user), std::move(session)});
  }
};

std::string ToolCall(std::string_view raw_id, std::string_view tool, std::string_view args,
                     std::string_view meta = "") {
  std::string params = StrCat(R"({"name":")", tool, R"(","arguments":)", args);
  if (!meta.empty()) params += StrCat(R"(,"_meta":)", meta);
  params += "}";
  return jsonrpc::MakeRequest(raw_id, "tools/call", params);
}

std::string EchoResult(std::string_view raw_id, std::string_view text) {
  return StrCat(R"({"jsonrpc":"2.0","id":)", raw_id,
                R"(,"result":{"content":[{"type":"text","text":")", text, R"("}]}})");
}

boost::json::value Json(const std::optional<std::string>& text) {
  return text ? boost::json::parse(*text) : boost::json::value(nullptr);
}

bool ProcessGone(int64_t pid) { return ::kill(static_cast<pid_t>(pid), 0) == -1 && errno == ESRCH; }

// A STDIO server in sh: answers initialize and every request with an empty result, writing junk
// (not JSON, not JSON-RPC, a 5000-byte line) before each answer.
constexpr std::string_view kJunkServer = R"(
while IFS= read -r line; do
  case "$line" in
    *'"id":'*)
      id=${line#*\"id\":}; id=${id%%,*}
      printf 'this is not JSON\n[1,2,3]\n{"jsonrpc":"1.0"}\n'
      head -c 5000 /dev/zero | tr '\0' x; printf '\n'
      case "$line" in
        *'"method":"initialize"'*)
          printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"junk"}}}\n' "$id" ;;
        *) printf '{"jsonrpc":"2.0","id":%s,"result":{}}\n' "$id" ;;
      esac ;;
  esac
done
)";

// A STDIO server in sh that, on tools/call, sends a ping and a sampling request and answers
// with what came back for each.
constexpr std::string_view kAskingServer = R"(
while IFS= read -r line; do
  id=${line#*\"id\":}; id=${id%%,*}
  case "$line" in
    *'"method":"initialize"'*)
      printf '{"jsonrpc":"2.0","id":%s,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"asking"}}}\n' "$id" ;;
    *'"method":"tools/call"'*)
      printf '{"jsonrpc":"2.0","id":"s1","method":"ping"}\n'
      IFS= read -r pong
      printf '{"jsonrpc":"2.0","id":"s2","method":"sampling/createMessage","params":{}}\n'
      IFS= read -r refusal
      printf '{"jsonrpc":"2.0","id":%s,"result":{"pong":%s,"refusal":%s}}\n' "$id" "$pong" "$refusal" ;;
  esac
done
)";

class RunnerServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_.Put({"echo", "STDIO", SB_MCP_ECHO_PATH, {}, {}});
    catalog_.Put({"remote", "STREAMABLE_HTTP", "", {}, {}});
    catalog_.Put({"missing", "STDIO", "sb-no-such-command-for-tests", {}, {}});
    catalog_.Put({"silent", "STDIO", "sleep", {"30"}, {}});
    catalog_.Put({"junk", "STDIO", "sh", {"-c", std::string(kJunkServer)}, {}});
    // Ignores SIGTERM and outlives its stdin (the ignored signal is inherited by `sleep`).
    catalog_.Put({"stubborn",
                  "STDIO",
                  "sh",
                  {"-c", StrCat("trap '' TERM\n", kJunkServer, "while :; do sleep 1; done\n")},
                  {}});
    catalog_.Put({"asking", "STDIO", "sh", {"-c", std::string(kAskingServer)}, {}});
  }

  RunnerService& Service() {
    if (!service_) service_ = std::make_unique<RunnerService>(options_, &catalog_, &launcher_);
    return *service_;
  }

  Attached Open(std::string server, RouteContext context = {}) {
    auto sink = std::make_shared<RecordingSink>();
    std::unique_ptr<Attachment> attachment =
        Service().Attach(std::move(server), sink, std::move(context));
    return Attached{sink, std::move(attachment)};
  }

  // The processes of `server` the runner lists (running or not).
  std::vector<ProcessStatus> Processes(const std::string& server) {
    std::vector<ProcessStatus> out;
    for (ProcessStatus& s : Service().ListProcesses()) {
      if (s.server == server) out.push_back(std::move(s));
    }
    return out;
  }
  // Running processes of `server` (pid set).
  std::vector<ProcessStatus> Running(const std::string& server) {
    std::vector<ProcessStatus> out;
    for (ProcessStatus& s : Processes(server)) {
      if (s.pid > 0) out.push_back(std::move(s));
    }
    return out;
  }
  // Polls (every 10 ms, for at most 10 s) until `pred` holds; returns whether it did.
  static bool Eventually(const std::function<bool()>& pred) {
    for (int i = 0; i < 1000; ++i) {
      if (pred()) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return pred();
  }
  ServerSpec Echo(std::string name, PoolSettings pool = {}) {
    return ServerSpec{std::move(name), "STDIO", SB_MCP_ECHO_PATH, {}, {}, std::move(pool)};
  }
  ServerSpec Script(std::string name, std::string script, PoolSettings pool = {}) {
    return ServerSpec{std::move(name), "STDIO", "sh", {StrCat(SB_RUNNER_TESTDATA, "/", script)}, {},
                      std::move(pool)};
  }

  // Opens and waits for Opened.
  Attached OpenReady(std::string server, RouteContext context = {}) {
    Attached a = Open(std::move(server), std::move(context));
    EXPECT_TRUE(a.sink->WaitOpened());
    return a;
  }

  RunnerOptions options_;
  StaticServerCatalog catalog_;
  ForkExecLauncher launcher_;
  std::unique_ptr<RunnerService> service_;
};

TEST_F(RunnerServiceTest, OpenedCarriesTheInitializeResult) {
  Attached a = Open("echo");
  ASSERT_TRUE(a.sink->WaitOpened());
  boost::json::value init = boost::json::parse(a.sink->init_result());
  EXPECT_EQ(init.at("protocolVersion"), "2025-06-18");
  EXPECT_EQ(init.at("serverInfo").at("name"), "sb-mcp-echo");
  EXPECT_GT(a.sink->pid(), 0);
  EXPECT_EQ(::kill(static_cast<pid_t>(a.sink->pid()), 0), 0);

  // A caller's own initialize is answered from the same result, under its id.
  a.Send(R"({"jsonrpc":"2.0","id":"i","method":"initialize","params":{}})");
  EXPECT_EQ(a.sink->WaitResponse(R"("i")"),
            StrCat(R"({"jsonrpc":"2.0","id":"i","result":)", a.sink->init_result(), "}"));
}

TEST_F(RunnerServiceTest, EchoRoundTripRestoresTheIdByteForByte) {
  Attached a = OpenReady("echo");
  a.Send(ToolCall(R"("req 1")", "echo", R"({"message":"hi"})"));
  EXPECT_EQ(a.sink->WaitResponse(R"("req 1")"), EchoResult(R"("req 1")", "Echo: hi"));
  a.Send(ToolCall("12345678901234567890", "echo", R"({"message":"big"})"));
  EXPECT_EQ(a.sink->WaitResponse("12345678901234567890"),
            EchoResult("12345678901234567890", "Echo: big"));

  // The server's errors come back as they are.
  a.Send(ToolCall("2", "nope", "{}"));
  EXPECT_EQ(Json(a.sink->WaitResponse("2")).at("error").at("code"), -32602);
  a.Send(jsonrpc::MakeRequest("3", "resources/list", ""));
  EXPECT_EQ(Json(a.sink->WaitResponse("3")).at("error").at("code"), -32601);
  // A message that is not JSON-RPC never reaches the server.
  a.Send("{oops");
  EXPECT_TRUE(a.sink->WaitFor(
      [](const std::string& m) { return m.find(R"("code":-32700)") != std::string::npos; }));
}

TEST_F(RunnerServiceTest, MessagesSentBeforeOpenedAreHeldUntilReady) {
  Attached a = Open("echo");
  a.Send(ToolCall("1", "echo", R"({"message":"early"})"));
  EXPECT_EQ(a.sink->WaitResponse("1"), EchoResult("1", "Echo: early"));
  EXPECT_EQ(a.sink->opened_count(), 1);
  EXPECT_EQ(a.sink->messages_before_open(), 0u);
}

TEST_F(RunnerServiceTest, ConcurrentOpensShareOneProcessAndOneInitialization) {
  std::vector<Attached> all;
  for (int i = 0; i < 5; ++i) all.push_back(Open("echo"));
  for (Attached& a : all) ASSERT_TRUE(a.sink->WaitOpened());
  for (Attached& a : all) {
    EXPECT_EQ(a.sink->pid(), all[0].sink->pid());
    EXPECT_EQ(a.sink->init_result(), all[0].sink->init_result());
  }
}

TEST_F(RunnerServiceTest, TwoAttachmentsUsingTheSameIdGetTheirOwnAnswers) {
  Attached a = OpenReady("echo");
  Attached b = OpenReady("echo");
  a.Send(ToolCall("1", "sleep", R"({"ms":300})"));
  b.Send(ToolCall("1", "echo", R"({"message":"b"})"));
  EXPECT_EQ(b.sink->WaitResponse("1"), EchoResult("1", "Echo: b"));
  EXPECT_EQ(a.sink->WaitResponse("1"), EchoResult("1", "Slept 300 ms"));
  EXPECT_EQ(a.sink->Messages().size(), 1u);
  EXPECT_EQ(b.sink->Messages().size(), 1u);
}

TEST_F(RunnerServiceTest, CrashFailsCallersAndTheNextCallRestartsTheServer) {
  Attached a = OpenReady("echo");
  int64_t first_pid = a.sink->pid();
  a.Send(ToolCall("1", "sleep", R"({"ms":10000})"));
  a.Send(ToolCall("2", "crash", "{}"));
  for (const char* id : {"1", "2"}) {
    boost::json::value r = Json(a.sink->WaitResponse(id));
    EXPECT_EQ(r.at("error").at("code"), -32001) << r;
    EXPECT_EQ(r.at("error").at("message"), "MCP server 'echo' exited (status 3)") << r;
  }
  EXPECT_TRUE(ProcessGone(first_pid));

  a.Send(ToolCall("3", "echo", R"({"message":"again"})"));
  EXPECT_EQ(a.sink->WaitResponse("3"), EchoResult("3", "Echo: again"));
  Attached b = OpenReady("echo");
  EXPECT_GT(b.sink->pid(), 0);
  EXPECT_NE(b.sink->pid(), first_pid);
  EXPECT_EQ(a.sink->opened_count(), 1);  // the stream stayed open throughout
}

TEST_F(RunnerServiceTest, RepeatedCrashesBackOffAndFailFastMeanwhile) {
  options_.restart_backoff_initial_ms = 1500;
  options_.restart_jitter_percent = 0;
  Attached a = OpenReady("echo");
  a.Send(ToolCall("1", "crash", "{}"));
  ASSERT_TRUE(a.sink->WaitResponse("1"));
  // First failure after a healthy run: restarted at once.
  a.Send(ToolCall("2", "crash", "{}"));
  EXPECT_EQ(Json(a.sink->WaitResponse("2")).at("error").at("code"), -32001);
  // Second failure in a row: the next restart waits, and calls fail at once meanwhile.
  auto before = std::chrono::steady_clock::now();
  a.Send(ToolCall("3", "echo", R"({"message":"too soon"})"));
  boost::json::value r = Json(a.sink->WaitResponse("3"));
  EXPECT_LT(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(1000));
  EXPECT_EQ(r.at("error").at("code"), -32001) << r;
  std::string message(r.at("error").at("message").as_string());
  EXPECT_NE(message.find("exited (status 3)"), std::string::npos) << message;
  EXPECT_NE(message.find("will be restarted"), std::string::npos) << message;
  // An Open during the backoff fails at once too.
  Attached b = Open("echo");
  std::optional<absl::Status> closed = b.sink->WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code(), absl::StatusCode::kUnavailable);

  std::this_thread::sleep_for(std::chrono::milliseconds(1600));
  a.Send(ToolCall("4", "echo", R"({"message":"later"})"));
  EXPECT_EQ(a.sink->WaitResponse("4"), EchoResult("4", "Echo: later"));
}

TEST_F(RunnerServiceTest, UnknownAndNonStdioServersAreRefused) {
  Attached unknown = Open("nobody");
  std::optional<absl::Status> s = unknown.sink->WaitClosed();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(s->message(), "unknown MCP server 'nobody'");

  Attached remote = Open("remote");
  s = remote.sink->WaitClosed();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(std::string(s->message()).find("only runs STDIO servers"), std::string::npos);
}

TEST_F(RunnerServiceTest, TheProcessCapIsNamedAndCostsNoBackoff) {
  options_.max_processes = 1;
  Attached first = OpenReady("echo");
  Attached second = Open("silent");
  std::optional<absl::Status> s = second.sink->WaitClosed();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(std::string(s->message()).find("max_processes=1"), std::string::npos) << *s;
  // The first server keeps working.
  first.Send(ToolCall("1", "echo", R"({"message":"still"})"));
  EXPECT_EQ(first.sink->WaitResponse("1"), EchoResult("1", "Echo: still"));
  // The refusal was not the server's failure: asking again meets the cap, not a backoff.
  Attached again = Open("silent");
  s = again.sink->WaitClosed();
  ASSERT_TRUE(s.has_value());
  EXPECT_NE(std::string(s->message()).find("max_processes=1"), std::string::npos) << *s;
}

TEST_F(RunnerServiceTest, AdminListsRestartsAndShowsMaskedStderr) {
  catalog_.Put({"chatty",
                "STDIO",
                "sh",
                {"-c", StrCat(R"(echo "token=$SB_TEST_TOKEN ready" >&2; exec )", SB_MCP_ECHO_PATH)},
                {{"SB_TEST_TOKEN", "s3cr3t-value"}}});
  Attached a = OpenReady("chatty");
  int64_t first_pid = a.sink->pid();

  // stderr is kept, with the server's env values masked.
  std::vector<std::string> lines;
  for (int i = 0; i < 100 && lines.empty(); ++i) {
    auto logs = Service().ServerLogs("chatty", 10);
    ASSERT_TRUE(logs.ok()) << logs.status();
    lines = *logs;
    if (lines.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "token=*** ready");

  auto find = [&](const std::string& server) -> std::optional<ProcessStatus> {
    for (ProcessStatus& s : Service().ListProcesses()) {
      if (s.server == server) return s;
    }
    return std::nullopt;
  };
  std::optional<ProcessStatus> status = find("chatty");
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->state, "ready");
  EXPECT_EQ(status->pid, first_pid);
  EXPECT_EQ(status->attachments, 1);
  EXPECT_EQ(status->restarts, 0);
  EXPECT_GT(status->rss_bytes, 0);

  // A restart stops the process; the attachment stays and its next call starts a fresh one at
  // once (an operator's restart is not a failure: no backoff).
  ASSERT_TRUE(Service().RestartServer("chatty").ok());
  for (int i = 0; i < 200 && find("chatty")->pid != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(find("chatty")->state, "idle");
  a.Send(ToolCall("1", "echo", R"({"message":"again"})"));
  EXPECT_EQ(a.sink->WaitResponse("1"), EchoResult("1", "Echo: again"));
  status = find("chatty");
  EXPECT_EQ(status->restarts, 1);
  EXPECT_NE(status->pid, first_pid);
  EXPECT_EQ(status->last_failure, "");

  EXPECT_EQ(Service().RestartServer("nobody").code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Service().ServerLogs("nobody", 10).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RunnerServiceTest, CommandNotFoundIsAClearError) {
  Attached a = Open("missing");
  std::optional<absl::Status> s = a.sink->WaitClosed();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s->message(),
            "cannot start MCP server 'missing': command 'sb-no-such-command-for-tests' not "
            "found on PATH");
}

TEST_F(RunnerServiceTest, InitializeTimeoutIsAnErrorAndTheProcessIsKilled) {
  options_.init_timeout_ms = 300;
  Attached a = Open("silent");
  std::optional<absl::Status> s = a.sink->WaitClosed();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(s->message(), "MCP server 'silent' did not answer initialize within 300 ms");
}

TEST_F(RunnerServiceTest, ServerNotificationsGoToEveryAttachment) {
  Attached a = OpenReady("echo");
  Attached b = OpenReady("echo");
  a.Send(ToolCall("7", "notify", R"({"message":"hello all"})"));
  ASSERT_TRUE(a.sink->WaitResponse("7"));
  auto is_log = [](const std::string& m) {
    return m.find("notifications/message") != std::string::npos;
  };
  ASSERT_TRUE(a.sink->WaitFor(is_log));
  ASSERT_TRUE(b.sink->WaitFor(is_log));
  EXPECT_EQ(b.sink->Notifications("notifications/message")[0].at("params").at("data"), "hello all");
  EXPECT_EQ(b.sink->Messages().size(), 1u);  // not a's response
}

TEST_F(RunnerServiceTest, ProgressGoesOnlyToTheCallerThatAskedWithItsOwnToken) {
  Attached a = OpenReady("echo");
  Attached b = OpenReady("echo");
  a.Send(ToolCall("1", "sleep", R"({"ms":100})", R"({"progressToken":"tok"})"));
  b.Send(ToolCall("1", "sleep", R"({"ms":150})", R"({"progressToken":"tok"})"));
  ASSERT_TRUE(a.sink->WaitResponse("1"));
  ASSERT_TRUE(b.sink->WaitResponse("1"));
  std::vector<boost::json::value> pa = a.sink->Notifications("notifications/progress");
  std::vector<boost::json::value> pb = b.sink->Notifications("notifications/progress");
  ASSERT_EQ(pa.size(), 2u);
  ASSERT_EQ(pb.size(), 2u);
  for (const auto& p : pa) {
    EXPECT_EQ(p.at("params").at("progressToken"), "tok");
    EXPECT_EQ(p.at("params").at("total"), 100);
  }
  for (const auto& p : pb) {
    EXPECT_EQ(p.at("params").at("progressToken"), "tok");
    EXPECT_EQ(p.at("params").at("total"), 150);
  }
}

TEST_F(RunnerServiceTest, CancelledRequestGetsNoResponse) {
  Attached a = OpenReady("echo");
  a.Send(ToolCall(R"("slow")", "sleep", R"({"ms":200})"));
  a.Send(jsonrpc::MakeNotification("notifications/cancelled",
                                   R"({"requestId":"slow","reason":"changed my mind"})"));
  a.Send(ToolCall(R"("slower")", "sleep", R"({"ms":400})"));
  // The server answers "slow" before "slower", but the runner forgot it when it was cancelled.
  ASSERT_TRUE(a.sink->WaitResponse(R"("slower")"));
  EXPECT_EQ(a.sink->Messages().size(), 1u);
}

TEST_F(RunnerServiceTest, DetachingOneAttachmentLeavesTheOthersWorking) {
  Attached a = OpenReady("echo");
  Attached b = OpenReady("echo");
  a.Send(ToolCall("1", "sleep", R"({"ms":200})"));
  a.attachment->Detach();
  a.Send(ToolCall("2", "echo", R"({"message":"after detach"})"));  // dropped
  b.Send(ToolCall("1", "sleep", R"({"ms":400})"));
  EXPECT_EQ(b.sink->WaitResponse("1"), EchoResult("1", "Slept 400 ms"));
  EXPECT_TRUE(a.sink->Messages().empty());
  Attached c = OpenReady("echo");
  EXPECT_EQ(c.sink->pid(), b.sink->pid());
}

TEST_F(RunnerServiceTest, StderrIsDrainedSoTheServerNeverBlocks) {
  Attached a = OpenReady("echo");
  std::string big(1 << 20, 'e');  // far more than a pipe holds
  a.Send(ToolCall("1", "stderr", StrCat(R"({"text":")", big, R"("})")));
  EXPECT_EQ(a.sink->WaitResponse("1"), EchoResult("1", "Wrote 1048576 bytes to stderr"));
  std::string lines;
  for (int i = 0; i < 20000; ++i) lines += "line\\n";
  a.Send(ToolCall("2", "stderr", StrCat(R"({"text":")", lines, R"("})")));
  ASSERT_TRUE(a.sink->WaitResponse("2"));
}

TEST_F(RunnerServiceTest, JunkAndOverlongStdoutLinesAreDropped) {
  options_.max_line_bytes = 1024;
  Attached a = OpenReady("junk");
  EXPECT_NE(a.sink->init_result().find(R"("name":"junk")"), std::string::npos);
  for (int i = 1; i <= 3; ++i) {
    std::string id = std::to_string(i);
    a.Send(jsonrpc::MakeRequest(id, "tools/list", ""));
    EXPECT_EQ(a.sink->WaitResponse(id),
              StrCat(R"({"jsonrpc":"2.0","id":)", id, R"(,"result":{}})"));
  }
  EXPECT_EQ(a.sink->Messages().size(), 3u);
}

TEST_F(RunnerServiceTest, PingIsAnsweredAndOtherServerRequestsGoToTheCaller) {
  Attached a = OpenReady("asking");
  a.Send(ToolCall("1", "anything", "{}"));
  // The ping never reaches the caller; the sampling request does, under a runner id.
  auto ask = a.sink->WaitFor([](const std::string& m) {
    return m.find("sampling/createMessage") != std::string::npos;
  });
  ASSERT_TRUE(ask);
  boost::json::value request = Json(*ask);
  ASSERT_TRUE(request.at("id").is_int64());
  std::string relay_id = std::to_string(request.at("id").as_int64());
  a.Send(R"({"jsonrpc":"2.0","id":)" + relay_id + R"(,"result":{"model":"m","role":"assistant","content":{"type":"text","text":"ok"}}})");
  boost::json::value r = Json(a.sink->WaitResponse("1"));
  EXPECT_EQ(r.at("result").at("pong"),
            boost::json::parse(R"({"jsonrpc":"2.0","id":"s1","result":{}})"));
  // The server got the answer under its own id.
  EXPECT_EQ(r.at("result").at("refusal").at("id"), "s2");
  EXPECT_EQ(r.at("result").at("refusal").at("result").at("content").at("text"), "ok");
  EXPECT_EQ(a.sink->Messages().size(), 2u);  // the relayed request and the response
}

TEST_F(RunnerServiceTest, SamplingRoundTripsThroughTheOnlyCallerInFlight) {
  Attached a = OpenReady("echo");
  Attached idle = OpenReady("echo");
  a.Send(ToolCall(R"("call")", "sample", R"({"prompt":"write a haiku"})"));
  auto ask = a.sink->WaitFor([](const std::string& m) {
    return m.find("sampling/createMessage") != std::string::npos;
  });
  ASSERT_TRUE(ask);
  EXPECT_NE(ask->find("write a haiku"), std::string::npos);
  boost::json::value request = Json(*ask);
  std::string relay_id = std::to_string(request.at("id").as_int64());
  // An answer from a stream that was not asked is ignored.
  idle.Send(R"({"jsonrpc":"2.0","id":)" + relay_id + R"(,"result":{"content":{"type":"text","text":"forged"}}})");
  a.Send(R"({"jsonrpc":"2.0","id":)" + relay_id + R"(,"result":{"model":"m","role":"assistant","content":{"type":"text","text":"an old pond"}}})");
  boost::json::value r = Json(a.sink->WaitResponse(R"("call")"));
  EXPECT_EQ(r.at("result").at("content").at(0).at("text"), "Sampled: an old pond");
  EXPECT_TRUE(idle.sink->Messages().empty());
}

TEST_F(RunnerServiceTest, ServerRequestWithSeveralCallersInFlightIsRefused) {
  Attached a = OpenReady("echo");
  Attached b = OpenReady("echo");
  b.Send(ToolCall("1", "sleep", R"({"ms":500})"));
  a.Send(ToolCall("2", "sample", R"({"prompt":"who?"})"));
  boost::json::value r = Json(a.sink->WaitResponse("2"));
  EXPECT_EQ(r.at("result").at("isError"), true);
  for (const std::string& m : b.sink->Messages()) {
    EXPECT_EQ(m.find("sampling/createMessage"), std::string::npos);
  }
}

TEST_F(RunnerServiceTest, ShutdownClosesAttachmentsAndLeavesNoChild) {
  Attached a = OpenReady("echo");
  Attached b = OpenReady("junk");
  a.Send(ToolCall("1", "sleep", R"({"ms":10000})"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  Service().Shutdown();
  for (Attached* x : {&a, &b}) {
    std::optional<absl::Status> s = x->sink->WaitClosed();
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->code(), absl::StatusCode::kUnavailable);
    EXPECT_TRUE(ProcessGone(x->sink->pid())) << x->sink->pid();
  }
  // After shutdown, attachments are refused and messages go nowhere.
  Attached late = Open("echo");
  std::optional<absl::Status> s = late.sink->WaitClosed();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->code(), absl::StatusCode::kUnavailable);
  a.Send(ToolCall("2", "echo", R"({"message":"x"})"));
}

TEST_F(RunnerServiceTest, ShutdownKillsAServerThatIgnoresSigterm) {
  options_.stop_grace_ms = 200;
  Attached a = OpenReady("stubborn");
  int64_t pid = a.sink->pid();
  auto before = std::chrono::steady_clock::now();
  Service().Shutdown();
  EXPECT_GE(std::chrono::steady_clock::now() - before, std::chrono::milliseconds(150));
  EXPECT_TRUE(ProcessGone(pid));
}

// --- the pool: isolation, sizes, queue, timeouts, supervision, drain ---

int ErrorCode(const std::optional<std::string>& response) {
  boost::json::value r = Json(response);
  if (!r.is_object() || !r.as_object().contains("error")) return 0;
  return static_cast<int>(r.at("error").at("code").as_int64());
}

std::string ErrorMessage(const std::optional<std::string>& response) {
  boost::json::value r = Json(response);
  if (!r.is_object() || !r.as_object().contains("error")) return "";
  return std::string(r.at("error").at("message").as_string());
}

TEST_F(RunnerServiceTest, KillNineMidCallFailsTheCallerAtOnceAndTheNextCallWorks) {
  Attached a = OpenReady("echo");
  int64_t pid = a.sink->pid();
  a.Send(ToolCall("1", "sleep", R"({"ms":20000})"));
  ASSERT_TRUE(Eventually([&] {
    auto running = Running("echo");
    return running.size() == 1 && running[0].in_flight == 1;
  }));
  ASSERT_EQ(::kill(static_cast<pid_t>(pid), SIGKILL), 0);
  // Long before the 20 s sleep would have ended.
  std::optional<std::string> r = a.sink->WaitFor(
      [](const std::string& m) { return m.find(R"("id":1,)") != std::string::npos; },
      std::chrono::seconds(5));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(ErrorCode(r), -32001) << *r;
  EXPECT_EQ(ErrorMessage(r), "MCP server 'echo' exited (signal 9)");
  a.Send(ToolCall("2", "echo", R"({"message":"after"})"));
  EXPECT_EQ(a.sink->WaitResponse("2"), EchoResult("2", "Echo: after"));
  EXPECT_TRUE(ProcessGone(pid));
}

TEST_F(RunnerServiceTest, AServerThatExitsAtStartOpensTheBreakerWhichClosesOnceFixed) {
  options_.breaker_failures = 3;
  options_.breaker_cooldown_ms = 2000;
  options_.restart_backoff_initial_ms = 1;
  options_.restart_jitter_percent = 0;
  catalog_.Put(Script("flaky", "crash_at_start.sh"));
  std::string last;
  for (int i = 0; i < 50 && last.find("circuit breaker") == std::string::npos; ++i) {
    Attached a = Open("flaky");
    std::optional<absl::Status> s = a.sink->WaitClosed();
    ASSERT_TRUE(s.has_value());
    EXPECT_EQ(s->code(), absl::StatusCode::kUnavailable);
    last = std::string(s->message());
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_NE(last.find("the circuit breaker of MCP server 'flaky' is open after 3 failures in a "
                      "row (last: MCP server 'flaky' exited during initialization (status 1))"),
            std::string::npos)
      << last;
  std::vector<ProcessStatus> list = Processes("flaky");
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].state, "breaker-open");
  // Its stderr says why.
  auto logs = Service().ServerLogs("flaky", 1);
  ASSERT_TRUE(logs.ok());
  ASSERT_EQ(logs->size(), 1u);
  EXPECT_EQ((*logs)[0], "missing configuration, giving up");

  // Fixed: once the cool-down is over, one trial start closes the breaker again.
  catalog_.Put(Echo("flaky"));
  bool opened = false;
  for (int i = 0; i < 100 && !opened; ++i) {
    Attached a = Open("flaky");
    opened = a.sink->WaitOpened();
    if (!opened) std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (opened) {
      a.Send(ToolCall("1", "echo", R"({"message":"healed"})"));
      EXPECT_EQ(a.sink->WaitResponse("1"), EchoResult("1", "Echo: healed"));
    }
  }
  EXPECT_TRUE(opened);
  EXPECT_EQ(Processes("flaky")[0].state, "ready");
}

TEST_F(RunnerServiceTest, TwoHundredSessionsOnASharedServerNeverExceedMax) {
  PoolSettings pool;
  pool.max_processes = 3;
  pool.max_in_flight = 2;
  catalog_.Put(Echo("pooled", pool));
  std::vector<Attached> sessions;
  for (int i = 0; i < 200; ++i) {
    sessions.push_back(Open("pooled", RouteContext{"u", StrCat("session-", i)}));
  }
  for (int i = 0; i < 200; ++i) {
    sessions[i].Send(ToolCall(StrCat(i), "sleep", R"({"ms":20})"));
  }
  size_t most = 0;
  int answered = 0;
  for (int i = 0; i < 200; ++i) {
    most = std::max(most, Running("pooled").size());
    std::optional<std::string> r = sessions[i].sink->WaitResponse(StrCat(i));
    if (r && r->find("Slept 20 ms") != std::string::npos) ++answered;
  }
  EXPECT_EQ(answered, 200);
  EXPECT_LE(most, 3u);
  std::vector<ProcessStatus> running = Running("pooled");
  EXPECT_EQ(running.size(), 3u);  // grew to max under load, and no further
  std::set<std::string> seen;
  for (const ProcessStatus& s : running) {
    EXPECT_EQ(s.isolation, "shared");
    EXPECT_EQ(s.attachments, 200);
    seen.insert(s.sessions.begin(), s.sessions.end());
  }
  EXPECT_GT(seen.size(), 3u);
}

TEST_F(RunnerServiceTest, PerUserGivesEachUserItsOwnProcessAndScopesItsNotifications) {
  PoolSettings pool;
  pool.isolation = "per-user";
  catalog_.Put(Echo("mine", pool));
  Attached a = OpenReady("mine");  // like the router: one stream, users per message
  a.SendFor(ToolCall("1", "notify", R"({"message":"for alice"})"), "alice@x.test", "s1");
  a.SendFor(ToolCall("2", "echo", R"({"message":"bob"})"), "bob@x.test", "s2");
  a.SendFor(ToolCall("3", "echo", R"({"message":"alice again"})"), "alice@x.test", "s3");
  EXPECT_EQ(a.sink->WaitResponse("2"), EchoResult("2", "Echo: bob"));
  EXPECT_EQ(a.sink->WaitResponse("3"), EchoResult("3", "Echo: alice again"));
  ASSERT_TRUE(a.sink->WaitResponse("1"));
  std::map<std::string, ProcessStatus> by_key;
  for (ProcessStatus& s : Running("mine")) by_key[s.key] = s;
  ASSERT_TRUE(by_key.count("alice@x.test") && by_key.count("bob@x.test"));
  EXPECT_NE(by_key["alice@x.test"].pid, by_key["bob@x.test"].pid);
  EXPECT_EQ(by_key["alice@x.test"].sessions, (std::vector<std::string>{"s1", "s3"}));
  EXPECT_EQ(by_key["bob@x.test"].sessions, (std::vector<std::string>{"s2"}));
  EXPECT_EQ(by_key["bob@x.test"].isolation, "per-user");
  // Alice's process speaks for alice alone.
  ASSERT_TRUE(a.sink->WaitFor(
      [](const std::string& m) { return m.find("notifications/message") != std::string::npos; }));
  EXPECT_EQ(a.sink->Routed(), (std::vector<std::string>{"alice@x.test/"}));
}

TEST_F(RunnerServiceTest, PerSessionGivesEachSessionItsOwnProcessUpToMax) {
  PoolSettings pool;
  pool.isolation = "per-session";
  pool.max_processes = 2;
  catalog_.Put(Echo("stateful", pool));
  Attached s1 = OpenReady("stateful", RouteContext{"u", "s1"});
  Attached s2 = OpenReady("stateful", RouteContext{"u", "s2"});
  s1.Send(ToolCall("1", "echo", R"({"message":"one"})"));
  s2.Send(ToolCall("1", "echo", R"({"message":"two"})"));
  EXPECT_EQ(s1.sink->WaitResponse("1"), EchoResult("1", "Echo: one"));
  EXPECT_EQ(s2.sink->WaitResponse("1"), EchoResult("1", "Echo: two"));
  std::set<int64_t> pids;
  for (const ProcessStatus& s : Running("stateful")) pids.insert(s.pid);
  EXPECT_EQ(pids.size(), 2u);
  // A third session meets maxProcesses, named, at once.
  Attached s3 = OpenReady("stateful", RouteContext{"u", "s3"});
  s3.Send(ToolCall("1", "echo", R"({"message":"three"})"));
  std::optional<std::string> r = s3.sink->WaitResponse("1");
  EXPECT_EQ(ErrorCode(r), -32001);
  EXPECT_NE(ErrorMessage(r).find("maxProcesses=2"), std::string::npos) << *r;
  EXPECT_EQ(Running("stateful").size(), 2u);
}

TEST_F(RunnerServiceTest, IdleProcessesBeyondMinAreReaped) {
  PoolSettings pool;
  pool.idle_timeout_ms = 200;
  catalog_.Put(Echo("idle", pool));
  Attached a = OpenReady("idle");
  int64_t pid = a.sink->pid();
  a.Send(ToolCall("1", "echo", R"({"message":"x"})"));
  ASSERT_TRUE(a.sink->WaitResponse("1"));
  ASSERT_TRUE(Eventually([&] { return Running("idle").empty(); }));
  EXPECT_TRUE(Eventually([&] { return ProcessGone(pid); }));
  EXPECT_EQ(Processes("idle")[0].state, "idle");
  EXPECT_EQ(Processes("idle")[0].last_failure, "");  // a reaped process is no failure
  // The attachment stays; its next call starts a fresh process.
  a.Send(ToolCall("2", "echo", R"({"message":"y"})"));
  EXPECT_EQ(a.sink->WaitResponse("2"), EchoResult("2", "Echo: y"));
}

TEST_F(RunnerServiceTest, WarmStartKeepsMinRunningWithinTheStartupConcurrencyCap) {
  options_.max_concurrent_starts = 2;
  PoolSettings pool;
  pool.min_processes = 1;
  pool.max_processes = 2;
  pool.idle_timeout_ms = 50;
  for (int i = 0; i < 6; ++i) {
    // Each takes a while to initialize, so starts overlap.
    catalog_.Put(ServerSpec{StrCat("warm", i),
                            "STDIO",
                            "sh",
                            {"-c", StrCat("sleep 0.2; exec ", SB_MCP_ECHO_PATH)},
                            {},
                            pool});
  }
  Service().ApplyConfig();
  int64_t most_starting = 0;
  int ready = 0;
  for (int round = 0; round < 1000 && ready < 6; ++round) {
    int64_t starting = 0;
    ready = 0;
    for (const ProcessStatus& s : Service().ListProcesses()) {
      starting += s.state == "starting" ? 1 : 0;
      ready += s.state == "ready" ? 1 : 0;
    }
    most_starting = std::max(most_starting, starting);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_EQ(ready, 6);
  EXPECT_LE(most_starting, 2);
  EXPECT_GE(most_starting, 1);
  // min is kept although the processes sit idle far beyond idleTimeoutMs.
  int64_t pid = Running("warm0")[0].pid;
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  ASSERT_EQ(Running("warm0").size(), 1u);
  EXPECT_EQ(Running("warm0")[0].pid, pid);
}

TEST_F(RunnerServiceTest, AFullQueueAndAQueueTimeoutAnswerTheCallerWithClearErrors) {
  PoolSettings pool;
  pool.max_processes = 1;
  pool.max_in_flight = 1;
  pool.queue_size = 1;
  pool.queue_timeout_ms = 300;
  catalog_.Put(Echo("busy", pool));
  Attached a = OpenReady("busy");
  a.Send(ToolCall("1", "sleep", R"({"ms":3000})"));
  ASSERT_TRUE(Eventually([&] {
    auto running = Running("busy");
    return running.size() == 1 && running[0].in_flight == 1;
  }));
  a.Send(ToolCall("2", "echo", R"({"message":"waits"})"));
  ASSERT_TRUE(Eventually([&] { return Processes("busy")[0].queue_depth == 1; }));
  a.Send(ToolCall("3", "echo", R"({"message":"no room"})"));
  std::optional<std::string> full = a.sink->WaitResponse("3");
  EXPECT_EQ(ErrorCode(full), -32003);
  EXPECT_EQ(ErrorMessage(full),
            "MCP server 'busy' is busy: its queue is full (queueSize=1, 1 of maxProcesses=1 "
            "processes running, maxInFlightPerProcess=1); try again later");
  std::optional<std::string> late = a.sink->WaitResponse("2");
  EXPECT_EQ(ErrorCode(late), -32002);
  EXPECT_EQ(ErrorMessage(late),
            "MCP server 'busy' had no free process within queueTimeoutMs=300 (1 of "
            "maxProcesses=1 running)");
  EXPECT_EQ(a.sink->WaitResponse("1"), EchoResult("1", "Slept 3000 ms"));
  // A queued request that frees up in time is served.
  a.Send(ToolCall("4", "sleep", R"({"ms":100})"));
  a.Send(ToolCall("5", "echo", R"({"message":"served"})"));
  EXPECT_EQ(a.sink->WaitResponse("5"), EchoResult("5", "Echo: served"));
}

TEST_F(RunnerServiceTest, ARequestTimeoutAnswersTheCallerAndCancelsUpstream) {
  PoolSettings pool;
  pool.request_timeout_ms = 300;
  catalog_.Put(Script("hang", "hang.sh", pool));
  Attached a = OpenReady("hang");
  a.Send(ToolCall("\"slow\"", "anything", "{}"));
  std::optional<std::string> r = a.sink->WaitResponse("\"slow\"");
  EXPECT_EQ(ErrorCode(r), -32002);
  EXPECT_EQ(ErrorMessage(r), "MCP server 'hang' did not answer within requestTimeoutMs=300");
  // The server was told, with the id it knows.
  EXPECT_TRUE(Eventually([&] {
    auto logs = Service().ServerLogs("hang", 10);
    for (const std::string& line : logs.ok() ? *logs : std::vector<std::string>{}) {
      if (line.find(R"("method":"notifications/cancelled","params":{"requestId":)") !=
          std::string::npos) {
        return true;
      }
    }
    return false;
  }));
  EXPECT_EQ(Running("hang")[0].in_flight, 0);
}

TEST_F(RunnerServiceTest, DrainLetsRequestsInFlightFinishThenStopsTheProcess) {
  Attached a = OpenReady("echo");
  int64_t old_pid = a.sink->pid();
  a.Send(ToolCall("1", "sleep", R"({"ms":500})"));
  ASSERT_TRUE(Eventually([&] { return Running("echo")[0].in_flight == 1; }));
  absl::StatusOr<int64_t> drained = Service().DrainServer("echo");
  ASSERT_TRUE(drained.ok()) << drained.status();
  EXPECT_EQ(*drained, 1);
  EXPECT_EQ(Running("echo")[0].state, "draining");
  a.Send(ToolCall("2", "echo", R"({"message":"after the drain"})"));  // waits for a fresh one
  EXPECT_EQ(a.sink->WaitResponse("1"), EchoResult("1", "Slept 500 ms"));
  EXPECT_EQ(a.sink->WaitResponse("2"), EchoResult("2", "Echo: after the drain"));
  EXPECT_TRUE(Eventually([&] { return ProcessGone(old_pid); }));
  std::vector<ProcessStatus> running = Running("echo");
  ASSERT_EQ(running.size(), 1u);
  EXPECT_NE(running[0].pid, old_pid);
  EXPECT_EQ(running[0].state, "ready");
  EXPECT_EQ(Service().DrainServer("nobody").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(RunnerServiceTest, AnAttachmentArrivingDuringADrainOpensOnTheFreshProcess) {
  options_.stop_grace_ms = 300;  // "stubborn" ignores SIGTERM: the drain lasts the grace
  Attached a = OpenReady("stubborn");
  int64_t old_pid = a.sink->pid();
  ASSERT_EQ(*Service().DrainServer("stubborn"), 1);
  Attached b = Open("stubborn");
  ASSERT_TRUE(b.sink->WaitOpened());
  EXPECT_NE(b.sink->pid(), old_pid);
  EXPECT_TRUE(ProcessGone(old_pid));
}

TEST_F(RunnerServiceTest, AChangedCommandOrEnvReplacesTheProcessesGracefully) {
  Attached a = OpenReady("echo");
  int64_t old_pid = a.sink->pid();
  a.Send(ToolCall("1", "sleep", R"({"ms":300})"));
  ASSERT_TRUE(Eventually([&] { return Running("echo")[0].in_flight == 1; }));
  catalog_.Put({"echo", "STDIO", SB_MCP_ECHO_PATH, {}, {{"SB_TEST_GENERATION", "2"}}});
  Service().ApplyConfig();
  // The request in flight finishes on the old process; the next one runs on a new one.
  EXPECT_EQ(a.sink->WaitResponse("1"), EchoResult("1", "Slept 300 ms"));
  a.Send(ToolCall("2", "echo", R"({"message":"new"})"));
  EXPECT_EQ(a.sink->WaitResponse("2"), EchoResult("2", "Echo: new"));
  EXPECT_TRUE(Eventually([&] { return ProcessGone(old_pid); }));
  ASSERT_EQ(Running("echo").size(), 1u);
  EXPECT_NE(Running("echo")[0].pid, old_pid);

  // Unchanged settings leave the process alone; a removed server's processes stop.
  int64_t pid = Running("echo")[0].pid;
  Service().ApplyConfig();
  // ApplyConfig runs on the I/O thread before the listing: a drain would show at once.
  ASSERT_EQ(Running("echo").size(), 1u);
  EXPECT_EQ(Running("echo")[0].pid, pid);
  EXPECT_EQ(Running("echo")[0].state, "ready");
  catalog_.Remove("echo");
  Service().ApplyConfig();
  EXPECT_TRUE(Eventually([&] { return Running("echo").empty(); }));
  EXPECT_TRUE(Eventually([&] { return ProcessGone(pid); }));
}

TEST_F(RunnerServiceTest, ATenMegabyteLineIsDroppedWithoutHarm) {
  options_.max_line_bytes = 1024 * 1024;
  catalog_.Put(Script("spam", "spam_line.sh"));
  Attached a = OpenReady("spam");
  int64_t pid = a.sink->pid();
  a.Send(ToolCall("1", "x", "{}"));
  EXPECT_EQ(a.sink->WaitResponse("1"), R"({"jsonrpc":"2.0","id":1,"result":{"ok":true}})");
  a.Send(ToolCall("2", "x", "{}"));
  EXPECT_EQ(a.sink->WaitResponse("2"), R"({"jsonrpc":"2.0","id":2,"result":{"ok":true}})");
  EXPECT_EQ(Running("spam")[0].pid, pid);
}

TEST_F(RunnerServiceTest, WorkingDirectoryAndResourceLimitsComeFromTheServer) {
  PoolSettings pool;
  pool.cwd = SB_RUNNER_TESTDATA;
  pool.limits.open_files = 77;
  catalog_.Put(Script("info", "info.sh", pool));
  Attached a = OpenReady("info");
  a.Send(jsonrpc::MakeRequest("1", "tools/list", ""));
  boost::json::value r = Json(a.sink->WaitResponse("1"));
  EXPECT_EQ(r.at("result").at("cwd"), SB_RUNNER_TESTDATA);
  EXPECT_EQ(r.at("result").at("nofile"), "77");

  pool.cwd = "/no/such/dir";
  catalog_.Put(Script("lost", "info.sh", pool));
  Attached b = Open("lost");
  std::optional<absl::Status> s = b.sink->WaitClosed();
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->message(),
            "cannot start MCP server 'lost': working directory '/no/such/dir': No such file or "
            "directory");
}

}  // namespace
}  // namespace switchboard::runner
