#include "tools/sbctl/src/commands.h"

#include "switchboard/common/strings.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace switchboard::sbctl {
namespace {

namespace v1 = registry::v1;

// Records requests and answers with canned responses or a canned error.
class FakeRegistry : public RegistryClient {
 public:
  absl::StatusOr<v1::ApplyResponse> Apply(const v1::ApplyRequest& request) override {
    applied.push_back(request);
    if (!error.ok()) return error;
    v1::ApplyResponse response;
    response.set_revision(7);
    for (const auto& s : request.servers()) {
      auto* c = response.add_changes();
      c->set_kind(v1::Change::SERVER);
      c->set_name(s.name());
      auto* d = response.add_diff();
      d->set_action(v1::ObjectDiff::ADDED);
      d->set_kind(v1::Change::SERVER);
      d->set_name(s.name());
    }
    for (const auto& n : request.namespaces()) {
      auto* d = response.add_diff();
      d->set_action(v1::ObjectDiff::UNCHANGED);
      d->set_kind(v1::Change::NAMESPACE);
      d->set_name(n.name());
    }
    for (const auto& e : request.endpoints()) {
      auto* d = response.add_diff();
      d->set_action(v1::ObjectDiff::UNCHANGED);
      d->set_kind(v1::Change::ENDPOINT);
      d->set_name(e.name());
    }
    return response;
  }
  absl::StatusOr<v1::ListServersResponse> ListServers() override {
    if (!error.ok()) return error;
    return servers;
  }
  absl::StatusOr<v1::ListNamespacesResponse> ListNamespaces() override {
    if (!error.ok()) return error;
    return v1::ListNamespacesResponse();
  }
  absl::StatusOr<v1::ListEndpointsResponse> ListEndpoints() override {
    if (!error.ok()) return error;
    return v1::ListEndpointsResponse();
  }
  absl::StatusOr<v1::ListUsersResponse> ListUsers() override {
    if (!error.ok()) return error;
    return v1::ListUsersResponse();
  }
  absl::StatusOr<v1::CreateApiKeyResponse> CreateApiKey(
      const v1::CreateApiKeyRequest& request) override {
    key_requests.push_back(request);
    if (!error.ok()) return error;
    v1::CreateApiKeyResponse response;
    response.mutable_api_key()->set_id("0123abcd");
    response.mutable_api_key()->set_user_email(request.user_email());
    response.set_key("sk_sb_" + std::string(64, 'f'));
    return response;
  }
  absl::StatusOr<v1::DeleteResponse> Delete(const v1::DeleteRequest& request) override {
    deletes.push_back(request);
    if (!error.ok()) return error;
    return v1::DeleteResponse();
  }

  absl::StatusOr<v1::ListSessionsResponse> ListSessions(
      const v1::ListSessionsRequest& request) override {
    session_users.push_back(request.user_email());
    if (!error.ok()) return error;
    return sessions;
  }
  absl::StatusOr<v1::EndSessionsResponse> EndSessions(
      const v1::EndSessionsRequest& request) override {
    ended.push_back(request);
    if (!error.ok()) return error;
    v1::EndSessionsResponse response;
    response.set_ended(request.id().empty() ? sessions.sessions_size() : 1);
    return response;
  }
  absl::StatusOr<v1::ListToolCallsResponse> ListToolCalls(
      const v1::ListToolCallsRequest& request) override {
    call_requests.push_back(request);
    if (!error.ok()) return error;
    return calls;
  }

  absl::Status error;
  v1::ListServersResponse servers;
  v1::ListSessionsResponse sessions;
  v1::ListToolCallsResponse calls;
  std::vector<v1::ApplyRequest> applied;
  std::vector<v1::CreateApiKeyRequest> key_requests;
  std::vector<v1::DeleteRequest> deletes;
  std::vector<std::string> session_users;
  std::vector<v1::EndSessionsRequest> ended;
  std::vector<v1::ListToolCallsRequest> call_requests;
};

int64_t NowUnix() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct RunResult {
  int code;
  std::string out;
  std::string err;
};

RunResult Execute(std::vector<std::string> args, FakeRegistry& registry) {
  auto command = ParseArgs(args, nullptr);
  EXPECT_TRUE(command.ok()) << command.status();
  std::ostringstream out, err;
  int code = Execute(*command, registry, out, err);
  return {code, out.str(), err.str()};
}

// A file under the test's temporary directory, removed when the test ends.
class TempFile {
 public:
  TempFile(const std::string& name, const std::string& text)
      : path_(testing::TempDir() + "sbctl_test_" + std::to_string(getpid()) + "_" + name) {
    std::ofstream(path_) << text;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

constexpr char kGood[] = R"(
servers:
  - name: everything
    command: npx
    args: [-y, "@modelcontextprotocol/server-everything"]
    env: {TOKEN: s3cret}
namespaces:
  - name: demo
    servers: [everything]
endpoints:
  - name: demo
    namespace: demo
)";

TEST(CommandsTest, ApplyPrintsOneLinePerObject) {
  FakeRegistry registry;
  TempFile file("good.yaml", kGood);
  RunResult run = Execute({"apply", "-f", file.path()}, registry);
  EXPECT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.out,
            "+ server/everything (added)\n"
            "= namespace/demo (unchanged)\n"
            "= endpoint/demo (unchanged)\n"
            "1 added, 0 changed, 0 removed, 2 unchanged\n");
  EXPECT_EQ(registry.applied[0].mode(), v1::ApplyRequest::UPSERT);
  ASSERT_EQ(registry.applied.size(), 1u);
  EXPECT_FALSE(registry.applied[0].dry_run());
  EXPECT_EQ(registry.applied[0].servers(0).env().at("TOKEN"), "s3cret");
}

TEST(CommandsTest, DryRunIsSentAndShown) {
  FakeRegistry registry;
  TempFile file("dry.yaml", kGood);
  RunResult run = Execute({"apply", "--dry-run", "-f", file.path()}, registry);
  EXPECT_EQ(run.code, 0);
  ASSERT_EQ(registry.applied.size(), 1u);
  EXPECT_TRUE(registry.applied[0].dry_run());
  EXPECT_EQ(run.out.substr(run.out.rfind('\n', run.out.size() - 2) + 1),
            "1 added, 0 changed, 0 removed, 2 unchanged (dry run: nothing written)\n");
}

TEST(CommandsTest, ModeIsSent) {
  FakeRegistry registry;
  TempFile file("mode.yaml", kGood);
  EXPECT_EQ(Execute({"apply", "--mode", "prune", "-f", file.path()}, registry).code, 0);
  EXPECT_EQ(Execute({"apply", "--mode=create-only", "-f", file.path()}, registry).code, 0);
  ASSERT_EQ(registry.applied.size(), 2u);
  EXPECT_EQ(registry.applied[0].mode(), v1::ApplyRequest::PRUNE);
  EXPECT_EQ(registry.applied[1].mode(), v1::ApplyRequest::CREATE_ONLY);
  EXPECT_FALSE(ParseArgs({"apply", "--mode", "merge", "-f", "x"}, nullptr).ok());
}

TEST(CommandsTest, EnvironmentReferencesAreResolvedAndAMissingOneNamesFieldAndVariable) {
  FakeRegistry registry;
  TempFile file("env.yaml", R"(
servers:
  - {name: a, command: x}
  - {name: gh, command: npx, env: {TOKEN: "tok-${SBCTL_TEST_TOKEN}"}}
)");
  unsetenv("SBCTL_TEST_TOKEN");
  RunResult run = Execute({"apply", "-f", file.path()}, registry);
  EXPECT_EQ(run.code, 2);
  EXPECT_EQ(run.err, "sbctl: " + file.path() +
                         ": servers[1].env.TOKEN: environment variable SBCTL_TEST_TOKEN is not "
                         "set\n");
  EXPECT_TRUE(registry.applied.empty());
  setenv("SBCTL_TEST_TOKEN", "v4lue", 1);
  run = Execute({"apply", "-f", file.path()}, registry);
  unsetenv("SBCTL_TEST_TOKEN");
  EXPECT_EQ(run.code, 0) << run.err;
  ASSERT_EQ(registry.applied.size(), 1u);
  EXPECT_EQ(registry.applied[0].servers(1).env().at("TOKEN"), "tok-v4lue");
}

TEST(CommandsTest, ImportMcpServersCreatesServersFromAClaudeDesktopFile) {
  FakeRegistry registry;
  TempFile file("claude_desktop_config.json", R"({
  "globalShortcut": "Ctrl+Space",
  "mcpServers": {
    "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"]},
    "linear": {"url": "https://mcp.linear.app/sse"},
    "remote": {"url": "https://example.test/mcp", "headers": {"Authorization": "Bearer x"}}
  }
})");
  RunResult run = Execute({"import-mcpservers", file.path(), "--dry-run"}, registry);
  EXPECT_EQ(run.code, 0) << run.err;
  ASSERT_EQ(registry.applied.size(), 1u);
  const v1::ApplyRequest& r = registry.applied[0];
  EXPECT_TRUE(r.dry_run());
  ASSERT_EQ(r.servers_size(), 3);
  EXPECT_EQ(r.servers(0).name(), "filesystem");
  EXPECT_EQ(r.servers(0).type(), "STDIO");
  EXPECT_EQ(r.servers(0).args_size(), 3);
  EXPECT_EQ(r.servers(1).type(), "SSE");
  EXPECT_EQ(r.servers(2).type(), "STREAMABLE_HTTP");
  EXPECT_EQ(r.servers(2).headers().at("Authorization"), "Bearer x");
  EXPECT_NE(run.out.find("3 added"), std::string::npos) << run.out;

  TempFile bad("bad.json", R"({"servers": {}})");
  run = Execute({"import-mcpservers", bad.path()}, registry);
  EXPECT_EQ(run.code, 2);
  EXPECT_EQ(run.err, "sbctl: " + bad.path() + ": mcpServers: expected an object of servers\n");
}

TEST(CommandsTest, InvalidFileNamesTheFileAndFieldAndSendsNothing) {
  FakeRegistry registry;
  TempFile file("bad.yaml", "servers:\n  - name: x\n    type: FTP\n");
  RunResult run = Execute({"apply", "-f", file.path()}, registry);
  EXPECT_EQ(run.code, 2);
  EXPECT_EQ(run.err, "sbctl: " + file.path() +
                         ": servers[0].type: must be one of STDIO, SSE, STREAMABLE_HTTP, got "
                         "'FTP'\n");
  EXPECT_TRUE(run.out.empty());
  EXPECT_TRUE(registry.applied.empty());
}

TEST(CommandsTest, MissingFileIsBadInput) {
  FakeRegistry registry;
  RunResult run = Execute({"apply", "-f", "/nonexistent/switchboard.yaml"}, registry);
  EXPECT_EQ(run.code, 2);
  EXPECT_EQ(run.err.rfind("sbctl: /nonexistent/switchboard.yaml: cannot read", 0), 0u) << run.err;
}

TEST(CommandsTest, RegistryErrorsAreOneLineAndExitOne) {
  FakeRegistry registry;
  registry.error = absl::InvalidArgumentError("endpoints[0].namespace: unknown namespace 'x'");
  TempFile file("ok.yaml", kGood);
  RunResult run = Execute({"apply", "-f", file.path()}, registry);
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.err, "sbctl: endpoints[0].namespace: unknown namespace 'x'\n");

  registry.error = absl::UnavailableError("failed to connect to all addresses");
  run = Execute({"get", "servers"}, registry);
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.err,
            "sbctl: registry at 127.0.0.1:7103 unavailable: failed to connect to all "
            "addresses\n");

  registry.error = absl::DeadlineExceededError("Deadline Exceeded");
  run = Execute({"get", "servers"}, registry);
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.err, "sbctl: registry at 127.0.0.1:7103 did not answer in time\n");

  registry.error = absl::InternalError("two\nlines");
  run = Execute({"get", "servers"}, registry);
  EXPECT_EQ(run.err, "sbctl: two lines\n");
}

TEST(CommandsTest, GetPrintsATableOrSaysNothingFound) {
  FakeRegistry registry;
  RunResult run = Execute({"get", "users"}, registry);
  EXPECT_EQ(run.code, 0);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "sbctl: no users found\n");

  auto* s = registry.servers.add_servers();
  s->set_name("remote");
  s->set_type("STREAMABLE_HTTP");
  s->set_url("https://example.test/mcp");
  s->set_bearer_token("***");
  run = Execute({"get", "servers"}, registry);
  EXPECT_EQ(run.code, 0);
  EXPECT_NE(run.out.find("remote"), std::string::npos);
  EXPECT_NE(run.out.find("bearerToken"), std::string::npos);
  EXPECT_EQ(run.out.find("***"), std::string::npos);

  run = Execute({"get", "servers", "-o", "json"}, registry);
  EXPECT_EQ(run.code, 0);
  auto json = boost::json::parse(run.out).as_object();
  EXPECT_EQ(json["servers"].as_array()[0].as_object()["name"].as_string(), "remote");
}

TEST(CommandsTest, CreateApiKeyPrintsTheKeyOnceWithANote) {
  FakeRegistry registry;
  RunResult run =
      Execute({"create", "apikey", "--user", "dev@example.com", "--name", "ci"}, registry);
  EXPECT_EQ(run.code, 0);
  EXPECT_EQ(run.out, "sk_sb_" + std::string(64, 'f') + "\n");
  EXPECT_NE(run.err.find("cannot be shown again"), std::string::npos);
  EXPECT_EQ(run.err.find("sk_sb_"), std::string::npos);
  ASSERT_EQ(registry.key_requests.size(), 1u);
  EXPECT_EQ(registry.key_requests[0].name(), "ci");

  run = Execute({"create", "apikey", "--user", "dev@example.com", "-o", "json"}, registry);
  EXPECT_EQ(run.code, 0);
  auto json = boost::json::parse(run.out).as_object();
  EXPECT_EQ(json["id"].as_string(), "0123abcd");
  EXPECT_EQ(json["key"].as_string(), "sk_sb_" + std::string(64, 'f'));
  EXPECT_EQ(json.size(), 2u);
}

TEST(CommandsTest, CreateApiKeyWithExpiryAndScope) {
  FakeRegistry registry;
  int64_t before = NowUnix();
  RunResult run = Execute({"create", "apikey", "--user", "dev@example.com", "--expires-in", "90d",
                           "--endpoints", "demo,lab"},
                          registry);
  EXPECT_EQ(run.code, 0) << run.err;
  ASSERT_EQ(registry.key_requests.size(), 1u);
  const auto& sent = registry.key_requests[0];
  EXPECT_GE(sent.expires_unix(), before + 90 * 86400);
  EXPECT_LE(sent.expires_unix(), before + 90 * 86400 + 60);
  ASSERT_EQ(sent.endpoints_size(), 2);
  EXPECT_EQ(sent.endpoints(0), "demo");
  EXPECT_EQ(sent.endpoints(1), "lab");
  for (const char* bad : {"90", "d", "0h", "12w", "1.5d"}) {
    EXPECT_FALSE(
        ParseArgs({"create", "apikey", "--user", "a@b.c", "--expires-in", bad}, nullptr).ok())
        << bad;
  }
}

TEST(CommandsTest, CreateApiKeyForUnknownUser) {
  FakeRegistry registry;
  registry.error = absl::NotFoundError("user 'ghost@example.com' not found");
  RunResult run = Execute({"create", "apikey", "--user", "ghost@example.com"}, registry);
  EXPECT_EQ(run.code, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err, "sbctl: user 'ghost@example.com' not found\n");
}

TEST(CommandsTest, Delete) {
  FakeRegistry registry;
  RunResult run = Execute({"delete", "namespace", "demo"}, registry);
  EXPECT_EQ(run.code, 0);
  EXPECT_EQ(run.out, "namespace/demo deleted\n");
  ASSERT_EQ(registry.deletes.size(), 1u);
  EXPECT_EQ(registry.deletes[0].kind(), v1::Change::NAMESPACE);
  EXPECT_EQ(registry.deletes[0].name(), "demo");
}

TEST(CommandsTest, SessionsAreListedAndEndedForTheUser) {
  FakeRegistry registry;
  RunResult none = Execute({"get", "sessions", "--user", "dev@example.com"}, registry);
  EXPECT_EQ(none.code, 0);
  EXPECT_EQ(none.out, "");
  EXPECT_EQ(none.err, "sbctl: no sessions found for dev@example.com\n");

  auto* s = registry.sessions.add_sessions();
  s->set_id("s1");
  s->set_endpoint("demo");
  s->set_protocol_version("2025-06-18");
  s->set_created_unix(1795285200);  // 2026-11-21 18:20 UTC
  s->set_expires_in_seconds(3599);
  auto* legacy = registry.sessions.add_sessions();
  legacy->set_id("s2");
  legacy->set_endpoint("demo");
  legacy->set_transport("sse");
  RunResult table = Execute({"get", "sessions", "--user", "dev@example.com"}, registry);
  EXPECT_EQ(table.code, 0) << table.err;
  EXPECT_EQ(table.out,
            "ID   ENDPOINT   PROTOCOL     TRANSPORT         CREATED                EXPIRES IN\n"
            "s1   demo       2025-06-18   streamable-http   2026-11-21 18:20 UTC   3599s\n"
            "s2   demo       -            sse               -                      0s\n");
  RunResult json = Execute({"get", "sessions", "--user", "dev@example.com", "-o", "json"},
                           registry);
  boost::json::value doc = boost::json::parse(json.out);
  EXPECT_EQ(doc.at("sessions").as_array().size(), 2u);
  EXPECT_EQ(doc.at("sessions").at(0).at("expires_in_seconds"), "3599");  // int64 as JSON text
  EXPECT_EQ(registry.session_users,
            (std::vector<std::string>(3, "dev@example.com")));

  RunResult all = Execute({"delete", "sessions", "--user", "dev@example.com"}, registry);
  EXPECT_EQ(all.out, "2 sessions of dev@example.com ended\n");
  RunResult one = Execute({"delete", "session", "s1", "--user", "dev@example.com"}, registry);
  EXPECT_EQ(one.out, "1 session of dev@example.com ended\n");
  ASSERT_EQ(registry.ended.size(), 2u);
  EXPECT_EQ(registry.ended[0].id(), "");
  EXPECT_EQ(registry.ended[1].id(), "s1");
  EXPECT_EQ(registry.ended[1].user_email(), "dev@example.com");
}

TEST(CommandsTest, AuditAsksForTheWindowAndPrintsNewestFirst) {
  FakeRegistry registry;
  auto* c = registry.calls.add_calls();
  c->set_at_unix_ms(1795285212345);  // 2026-11-21 18:20 UTC
  c->set_user_email("dev@example.com");
  c->set_endpoint("demo");
  c->set_tool("everything__echo");
  c->set_outcome("ok");
  c->set_duration_ms(42);
  auto* anonymous = registry.calls.add_calls();
  anonymous->set_at_unix_ms(1795285100000);
  anonymous->set_endpoint("open");
  anonymous->set_tool("everything__add");
  anonymous->set_outcome("timeout");
  anonymous->set_duration_ms(30000);
  int64_t before = NowUnix();
  RunResult r = Execute({"audit", "--user", "dev@example.com", "--since", "1h", "--limit", "5"},
                        registry);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "TIME                   USER              ENDPOINT   TOOL               OUTCOME   "
            "DURATION\n"
            "2026-11-21 18:20 UTC   dev@example.com   demo       everything__echo   ok        "
            "42ms\n"
            "2026-11-21 18:18 UTC   -                 open       everything__add    timeout   "
            "30000ms\n");
  ASSERT_EQ(registry.call_requests.size(), 1u);
  const v1::ListToolCallsRequest& sent = registry.call_requests[0];
  EXPECT_EQ(sent.user_email(), "dev@example.com");
  EXPECT_EQ(sent.limit(), 5);
  EXPECT_GE(sent.since_unix(), before - 3600);
  EXPECT_LE(sent.since_unix(), before - 3600 + 60);

  registry.calls.clear_calls();
  RunResult none = Execute({"audit"}, registry);
  EXPECT_EQ(none.code, 0);
  EXPECT_EQ(none.err, "sbctl: no tool calls found\n");
  EXPECT_EQ(registry.call_requests[1].since_unix(), 0);  // no --since: every call
  EXPECT_EQ(registry.call_requests[1].limit(), 0);       // the registry's default

  registry.error = absl::FailedPreconditionError("sessions: the registry has no redis_url");
  RunResult refused = Execute({"get", "sessions", "--user", "dev@example.com"}, registry);
  EXPECT_EQ(refused.code, 1);
  EXPECT_EQ(refused.err, "sbctl: sessions: the registry has no redis_url\n");
}

class FakeRunner : public RunnerClient {
 public:
  absl::StatusOr<runner::v1::ListProcessesResponse> ListProcesses() override {
    if (!fail.ok()) return fail;
    return processes;
  }
  absl::Status RestartServer(const std::string& server) override {
    restarted.push_back(server);
    if (server != "everything") return absl::NotFoundError("the runner has not run MCP server 'x'");
    return absl::OkStatus();
  }
  absl::StatusOr<int64_t> DrainServer(const std::string& server) override {
    drained.push_back(server);
    if (server != "everything") return absl::NotFoundError("the runner has not run MCP server 'x'");
    return 2;
  }
  absl::StatusOr<runner::v1::ServerLogsResponse> ServerLogs(const std::string& server,
                                                            int max_lines) override {
    logs_asked = StrCat(server, ":", max_lines);
    runner::v1::ServerLogsResponse r;
    r.add_lines("starting with token=***");
    r.add_lines("ready");
    return r;
  }

  absl::Status fail = absl::OkStatus();
  runner::v1::ListProcessesResponse processes;
  std::vector<std::string> restarted;
  std::vector<std::string> drained;
  std::string logs_asked;
};

RunResult ExecuteOnRunner(std::vector<std::string> args, FakeRunner& runner) {
  auto command = ParseArgs(args, nullptr, "10.0.0.7:7102");
  EXPECT_TRUE(command.ok()) << command.status();
  EXPECT_TRUE(IsRunnerVerb(command->verb));
  std::ostringstream out, err;
  int code = ExecuteRunner(*command, runner, out, err);
  return {code, out.str(), err.str()};
}

TEST(RunnerCommandsTest, PsShowsEveryProcess) {
  FakeRunner runner;
  auto* p = runner.processes.add_processes();
  p->set_server("everything");
  p->set_pid(4242);
  p->set_state("ready");
  p->set_uptime_ms(3723000);
  p->set_attachments(2);
  p->set_in_flight(1);
  p->set_restarts(3);
  p->set_rss_bytes(int64_t{48} << 20);
  p->add_sessions("s1");
  p->add_sessions("s2");
  p->set_queue_depth(4);
  auto* keyed = runner.processes.add_processes();
  keyed->set_server("mail");
  keyed->set_pid(77);
  keyed->set_state("draining");
  keyed->set_isolation("per-user");
  keyed->set_key("dev@example.com");
  keyed->set_uptime_ms(5000);
  auto* idle = runner.processes.add_processes();
  idle->set_server("github");
  idle->set_state("backoff");
  idle->set_last_failure("MCP server 'github' exited (status 1)");
  RunResult r = ExecuteOnRunner({"runner", "ps"}, runner);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out,
            "SERVER       PID    STATE      KEY               UPTIME   CALLERS   SESSIONS   "
            "IN-FLIGHT   QUEUED   RESTARTS   RSS      LAST FAILURE\n"
            "everything   4242   ready      -                 1h2m     2         2          1  "
            "         4        3          48 MiB   -\n"
            "mail         77     draining   dev@example.com   5s       0         0          0  "
            "         0        0          -        -\n"
            "github       -      backoff    -                 -        0         0          0  "
            "         0        0          -        MCP server 'github' exited (status 1)\n");
  RunResult json = ExecuteOnRunner({"runner", "ps", "-o", "json"}, runner);
  boost::json::value doc = boost::json::parse(json.out);
  EXPECT_EQ(doc.at("processes").as_array().size(), 3u);
  EXPECT_EQ(doc.at("processes").at(0).at("sessions").as_array().size(), 2u);
  EXPECT_EQ(doc.at("processes").at(1).at("key"), "dev@example.com");
  // A process that is not running has no pid at all (tools/bench/run selects on it).
  EXPECT_FALSE(doc.at("processes").at(2).as_object().contains("pid"));
}

TEST(RunnerCommandsTest, RestartAndLogs) {
  FakeRunner runner;
  RunResult ok = ExecuteOnRunner({"runner", "restart", "everything"}, runner);
  EXPECT_EQ(ok.code, 0);
  EXPECT_EQ(ok.out, "server/everything restarted\n");
  RunResult missing = ExecuteOnRunner({"runner", "restart", "nope"}, runner);
  EXPECT_EQ(missing.code, 1);
  EXPECT_EQ(missing.err, "sbctl: the runner has not run MCP server 'x'\n");

  RunResult drain = ExecuteOnRunner({"runner", "drain", "everything"}, runner);
  EXPECT_EQ(drain.code, 0);
  EXPECT_EQ(drain.out, "server/everything draining (2 processes)\n");
  RunResult drain_missing = ExecuteOnRunner({"runner", "drain", "nope"}, runner);
  EXPECT_EQ(drain_missing.code, 1);
  EXPECT_EQ(runner.drained, (std::vector<std::string>{"everything", "nope"}));
  EXPECT_FALSE(ParseArgs({"runner", "drain"}, nullptr).ok());

  RunResult logs = ExecuteOnRunner({"logs", "server", "everything", "--lines", "20"}, runner);
  EXPECT_EQ(logs.code, 0);
  EXPECT_EQ(logs.out, "starting with token=***\nready\n");
  EXPECT_EQ(runner.logs_asked, "everything:20");
}

TEST(RunnerCommandsTest, AnUnreachableRunnerIsNamed) {
  FakeRunner runner;
  runner.fail = absl::UnavailableError("connection refused");
  RunResult r = ExecuteOnRunner({"runner", "ps"}, runner);
  EXPECT_EQ(r.code, 1);
  EXPECT_EQ(r.err, "sbctl: runner at 10.0.0.7:7102 unavailable: connection refused\n");
  // --runner wins over the environment.
  auto command = ParseArgs({"runner", "ps", "--runner", "127.0.0.1:9"}, nullptr, "10.0.0.7:7102");
  ASSERT_TRUE(command.ok());
  EXPECT_EQ(command->runner, "127.0.0.1:9");
  EXPECT_FALSE(ParseArgs({"logs", "server", "x", "--lines", "0"}, nullptr).ok());
  EXPECT_FALSE(ParseArgs({"runner", "ps", "-o", "yaml"}, nullptr).ok());
  EXPECT_FALSE(ParseArgs({"runner", "stop", "x"}, nullptr).ok());
}

}  // namespace
}  // namespace switchboard::sbctl
