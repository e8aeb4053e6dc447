#include <arpa/inet.h>
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>
#include <optional>
#include <thread>
#include <type_traits>

#include "services/registry/src/embedded_migrations.h"
#include "services/registry/src/pg_config_store.h"
#include "services/registry/src/registry_grpc.h"
#include "services/registry/src/registry_service.h"
#include "services/registry/src/test_database.h"
#include "switchboard/common/crypto.h"
#include "switchboard/common/strings.h"
#include "switchboard/configwatch/config_cache.h"
#include "switchboard/grpcutil/server.h"

namespace switchboard::registry {
namespace {

using v1::Change;
using namespace std::chrono_literals;

v1::ApplyRequest Demo() {
  v1::ApplyRequest r;
  auto* everything = r.add_servers();
  everything->set_name("everything");
  everything->set_type("STDIO");
  everything->set_command("npx");
  everything->add_args("@modelcontextprotocol/server-everything");
  (*everything->mutable_env())["TOKEN"] = "env-secret";
  auto* remote = r.add_servers();
  remote->set_name("remote");
  remote->set_type("SSE");
  remote->set_url("https://example.test/sse");
  remote->set_bearer_token("bearer-secret");
  auto* ns = r.add_namespaces();
  ns->set_name("demo");
  ns->add_servers()->set_server("everything");
  ns->add_servers()->set_server("remote");
  auto* ep = r.add_endpoints();
  ep->set_name("demo");
  ep->set_namespace_("demo");
  ep->set_enable_api_key_auth(true);
  r.add_users()->set_email("dev@example.com");
  return r;
}

// Polls `done` every 20 ms for up to `timeout`.
bool WaitUntil(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

// A loopback TCP port nobody is listening on right now.
int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// One registry replica in this process: the service over Postgres and its gRPC server on a
// port of its own.
class Replica {
 public:
  explicit Replica(const std::string& url)
      : service_([url] { return std::make_unique<PgConfigStore>(url); },
                 RegistryOptions{.poll_interval = 1000ms, .retry_backoff = 200ms}),
        grpc_(&service_) {}

  ~Replica() { Stop(); }

  absl::Status Start() {
    absl::Status started = service_.Start();
    if (!started.ok()) return started;
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&grpc_);
    server_ = builder.BuildAndStart();
    if (server_ == nullptr || port == 0) return absl::UnavailableError("cannot start server");
    address_ = "127.0.0.1:" + std::to_string(port);
    return absl::OkStatus();
  }

  void Stop() {
    if (server_ == nullptr) return;
    service_.watch_hub().CloseAll();
    server_->Shutdown(std::chrono::system_clock::now() + 5s);
    server_.reset();
    service_.Stop();
  }

  std::unique_ptr<v1::Registry::Stub> Stub() {
    return v1::Registry::NewStub(grpcutil::MakeChannel(address_));
  }
  const std::string& address() const { return address_; }

 private:
  RegistryService service_;
  RegistryGrpc grpc_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

class RegistryGrpcTest : public testing::Test {
 protected:
  void SetUp() override {
    auto db = TestDatabase::Create();
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(*db);
    absl::Status migrated = db_->Migrate();
    ASSERT_TRUE(migrated.ok()) << migrated;
    replica_ = std::make_unique<Replica>(db_->url());
    absl::Status started = replica_->Start();
    ASSERT_TRUE(started.ok()) << started;
    stub_ = replica_->Stub();
  }

  void TearDown() override {
    stub_.reset();
    replica_.reset();
  }

  v1::ApplyResponse MustApply(const v1::ApplyRequest& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::ApplyResponse response;
    grpc::Status status = stub_->Apply(&context, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  std::unique_ptr<TestDatabase> db_;
  std::unique_ptr<Replica> replica_;
  std::unique_ptr<v1::Registry::Stub> stub_;
};

TEST_F(RegistryGrpcTest, WatchStreamSendsASnapshotThenChanges) {
  v1::ApplyResponse first = MustApply(Demo());
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 20s);
  v1::WatchRequest request;
  request.set_watcher("raw-test");
  auto reader = stub_->Watch(&context, request);

  v1::WatchEvent event;
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_TRUE(event.has_snapshot());
  EXPECT_EQ(event.revision(), first.revision());
  ASSERT_EQ(event.snapshot().servers_size(), 2);
  // The feed is internal: the runner needs env values and auth needs key hashes.
  EXPECT_EQ(event.snapshot().servers(0).env().at("TOKEN"), "env-secret");

  v1::ApplyRequest update;
  auto* server = update.add_servers();
  server->set_name("third");
  server->set_type("STDIO");
  server->set_command("deno");
  v1::ApplyResponse second = MustApply(update);
  ASSERT_TRUE(reader->Read(&event));
  EXPECT_FALSE(event.has_snapshot());
  EXPECT_EQ(event.revision(), second.revision());
  ASSERT_EQ(event.changes_size(), 1);
  EXPECT_EQ(event.changes(0).op(), Change::UPSERT);
  EXPECT_EQ(event.changes(0).kind(), Change::SERVER);
  EXPECT_EQ(event.changes(0).server().command(), "deno");
  context.TryCancel();
  reader->Finish();
}

TEST_F(RegistryGrpcTest, ConfigCacheFollowsApplyDeleteKeysAndHandEdits) {
  v1::ApplyResponse first = MustApply(Demo());
  configwatch::ConfigCache cache(grpcutil::MakeChannel(replica_->address()), "test-router");
  cache.Start();
  ASSERT_TRUE(cache.WaitSynced(10000));
  auto view = cache.Current();
  EXPECT_EQ(view->revision(), first.revision());
  ASSERT_NE(view->FindServer("everything"), nullptr);
  EXPECT_EQ(view->FindServer("everything")->env().at("TOKEN"), "env-secret");
  ASSERT_NE(view->FindEndpoint("demo"), nullptr);

  // An apply arrives as a change.
  v1::ApplyRequest update;
  auto* server = update.add_servers();
  server->set_name("third");
  server->set_type("STDIO");
  server->set_command("deno");
  v1::ApplyResponse second = MustApply(update);
  ASSERT_TRUE(WaitUntil([&] { return cache.Current()->revision() == second.revision(); }));
  EXPECT_NE(cache.Current()->FindServer("third"), nullptr);
  EXPECT_NE(cache.Current()->FindServer("everything"), nullptr);

  // So does an edit made by hand in psql.
  db_->Query("UPDATE servers SET description = 'edited by hand' WHERE name = 'remote'");
  ASSERT_TRUE(WaitUntil([&] {
    const v1::Server* remote = cache.Current()->FindServer("remote");
    return remote != nullptr && remote->description() == "edited by hand";
  }));

  // A delete.
  {
    grpc::ClientContext context;
    v1::DeleteRequest request;
    request.set_kind(Change::ENDPOINT);
    request.set_name("demo");
    v1::DeleteResponse response;
    ASSERT_TRUE(stub_->Delete(&context, request, &response).ok());
  }
  ASSERT_TRUE(WaitUntil([&] { return cache.Current()->FindEndpoint("demo") == nullptr; }));

  // A new API key, found by the hash of the clear key as auth will look it up.
  std::string key;
  {
    grpc::ClientContext context;
    v1::CreateApiKeyRequest request;
    request.set_user_email("dev@example.com");
    v1::CreateApiKeyResponse response;
    ASSERT_TRUE(stub_->CreateApiKey(&context, request, &response).ok());
    key = response.key();
  }
  ASSERT_TRUE(WaitUntil(
      [&] { return cache.Current()->FindApiKeyBySha256(crypto::Sha256Hex(key)) != nullptr; }));
  EXPECT_EQ(cache.Current()->FindApiKeyBySha256(crypto::Sha256Hex(key))->user_email(),
            "dev@example.com");
  cache.Stop();
}

TEST_F(RegistryGrpcTest, AdminCallsMapErrorsAndBlankSecrets) {
  grpc::Status status;
  {
    v1::ApplyRequest bad = Demo();
    bad.mutable_endpoints(0)->set_namespace_("nope");
    grpc::ClientContext context;
    v1::ApplyResponse response;
    status = stub_->Apply(&context, bad, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(), "endpoints[0].namespace: unknown namespace 'nope'");
  }
  EXPECT_EQ(db_->Query("SELECT count(*) FROM servers")[0][0], "0");
  {
    v1::ApplyRequest dry = Demo();
    dry.set_dry_run(true);
    v1::ApplyResponse response = MustApply(dry);
    EXPECT_EQ(response.changes_size(), 5);
    EXPECT_EQ(response.SerializeAsString().find("secret"), std::string::npos);
  }
  EXPECT_EQ(db_->Query("SELECT count(*) FROM servers")[0][0], "0");
  v1::ApplyResponse applied = MustApply(Demo());
  EXPECT_EQ(applied.changes_size(), 5);
  EXPECT_EQ(applied.changes(0).server().env().at("TOKEN"), "***");
  {
    grpc::ClientContext context;
    v1::ListServersResponse response;
    ASSERT_TRUE(stub_->ListServers(&context, v1::ListRequest(), &response).ok());
    ASSERT_EQ(response.servers_size(), 2);
    EXPECT_EQ(response.servers(1).bearer_token(), "***");
    EXPECT_EQ(response.SerializeAsString().find("secret"), std::string::npos);
  }
  {
    grpc::ClientContext context;
    v1::ListNamespacesResponse response;
    ASSERT_TRUE(stub_->ListNamespaces(&context, v1::ListRequest(), &response).ok());
    ASSERT_EQ(response.namespaces_size(), 1);
    EXPECT_EQ(response.namespaces(0).servers_size(), 2);
  }
  {
    grpc::ClientContext context;
    v1::ListEndpointsResponse response;
    ASSERT_TRUE(stub_->ListEndpoints(&context, v1::ListRequest(), &response).ok());
    EXPECT_EQ(response.endpoints_size(), 1);
  }
  {
    grpc::ClientContext context;
    v1::ListUsersResponse response;
    ASSERT_TRUE(stub_->ListUsers(&context, v1::ListRequest(), &response).ok());
    EXPECT_EQ(response.users_size(), 1);
  }
  {
    grpc::ClientContext context;
    v1::CreateApiKeyRequest request;
    request.set_user_email("ghost@example.com");
    v1::CreateApiKeyResponse response;
    status = stub_->CreateApiKey(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
    EXPECT_EQ(status.error_message(), "user 'ghost@example.com' not found");
  }
  {
    grpc::ClientContext context;
    v1::DeleteRequest request;
    request.set_kind(Change::SERVER);
    request.set_name("everything");
    v1::DeleteResponse response;
    status = stub_->Delete(&context, request, &response);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  }
}

TEST_F(RegistryGrpcTest, ReplicasSeeEachOthersChanges) {
  Replica other(db_->url());
  ASSERT_TRUE(other.Start().ok());
  configwatch::ConfigCache cache(grpcutil::MakeChannel(other.address()), "edge-test");
  cache.Start();
  ASSERT_TRUE(cache.WaitSynced(10000));
  v1::ApplyResponse applied = MustApply(Demo());  // through the first replica
  ASSERT_TRUE(WaitUntil([&] { return cache.Current()->revision() == applied.revision(); }));
  EXPECT_NE(cache.Current()->FindNamespace("demo"), nullptr);
  cache.Stop();
}

TEST_F(RegistryGrpcTest, ShutdownEndsWatchStreams) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 20s);
  auto reader = stub_->Watch(&context, v1::WatchRequest());
  v1::WatchEvent event;
  ASSERT_TRUE(reader->Read(&event));
  auto started = std::chrono::steady_clock::now();
  replica_->Stop();
  EXPECT_FALSE(reader->Read(&event));
  grpc::Status status = reader->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << status.error_message();
  EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
}

// Runs `argv` with extra environment, returning the exit code and what it wrote on stdout (its
// JSON log lines) and stderr (a fatal start-up error). Sends SIGTERM once `ready` (polled)
// holds, when given.
struct ProcessResult {
  int exit_code = -1;
  std::string stdout_text;
  std::string stderr_text;
};

ProcessResult RunBinary(const std::vector<std::string>& env, const std::function<bool()>& ready) {
  // Everything the child needs is prepared before fork: only async-signal-safe calls after.
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::string_view(*e).rfind("SWITCHBOARD_", 0) != 0) env_strings.emplace_back(*e);
  }
  env_strings.insert(env_strings.end(), env.begin(), env.end());
  std::vector<char*> envp;
  for (std::string& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string binary = SB_REGISTRY_BINARY;
  char* argv[] = {binary.data(), nullptr};

  int out_fds[2];
  int err_fds[2];
  if (pipe(out_fds) != 0) return {};
  if (pipe(err_fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a test run that died
    dup2(out_fds[1], STDOUT_FILENO);
    dup2(err_fds[1], STDERR_FILENO);
    for (int fd : {out_fds[0], out_fds[1], err_fds[0], err_fds[1]}) close(fd);
    execve(binary.c_str(), argv, envp.data());
    _exit(127);
  }
  close(out_fds[1]);
  close(err_fds[1]);
  ProcessResult result;
  auto drain_into = [](int fd, std::string* text) {
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0) text->append(buf, static_cast<size_t>(n));
  };
  std::thread drain_out(drain_into, out_fds[0], &result.stdout_text);
  std::thread drain_err(drain_into, err_fds[0], &result.stderr_text);
  if (ready) {
    bool up = WaitUntil(ready, 15s);
    EXPECT_TRUE(up) << "sb-registry did not start serving";
    kill(pid, SIGTERM);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  drain_out.join();
  drain_err.join();
  close(out_fds[0]);
  close(err_fds[0]);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return result;
}

TEST(SbRegistryBinaryTest, UnreachableDatabaseIsOneLineWithoutThePassword) {
  ProcessResult result =
      RunBinary({"SWITCHBOARD_REGISTRY_POSTGRES_URL=postgresql://sb:hunter2-secret@127.0.0.1:1/sb",
                 "SWITCHBOARD_REGISTRY_LISTEN=127.0.0.1:" + std::to_string(FreePort())},
                nullptr);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_EQ(result.stderr_text.rfind("sb-registry: database postgresql://sb:***@127.0.0.1:1/sb", 0),
            0u)
      << result.stderr_text;
  EXPECT_EQ(result.stderr_text.find("hunter2"), std::string::npos) << result.stderr_text;
  EXPECT_EQ(result.stdout_text.find("hunter2"), std::string::npos) << result.stdout_text;
  // One line of explanation on stderr; the structured log lines go to stdout.
  EXPECT_EQ(std::count(result.stderr_text.begin(), result.stderr_text.end(), '\n'), 1)
      << result.stderr_text;
}

TEST(SbRegistryBinaryTest, MigratesServesAndStopsCleanlyOnSigterm) {
  auto db = TestDatabase::Create();
  ASSERT_TRUE(db.ok()) << db.status();
  std::string listen = "127.0.0.1:" + std::to_string(FreePort());
  grpc::StatusCode without_credential = grpc::StatusCode::OK;
  grpc::StatusCode watch_without_credential = grpc::StatusCode::OK;
  bool watch_with_service_token = false;
  ProcessResult result =
      RunBinary({"SWITCHBOARD_REGISTRY_POSTGRES_URL=" + (*db)->url(),
                 "SWITCHBOARD_REGISTRY_LISTEN=" + listen,
                 "SWITCHBOARD_REGISTRY_ADMIN_TOKEN=binary-test-admin-token",
                 "SWITCHBOARD_REGISTRY_SERVICE_TOKEN=binary-test-service-token"},
                [&] {
                  // A fresh channel each time: no reconnect backoff carried over from refused
                  // attempts.
                  auto stub = v1::Registry::NewStub(grpcutil::MakeChannel(listen));
                  grpc::ClientContext context;
                  context.set_deadline(std::chrono::system_clock::now() + 500ms);
                  context.AddMetadata("authorization", "Bearer binary-test-admin-token");
                  v1::ListServersResponse response;
                  if (!stub->ListServers(&context, v1::ListRequest(), &response).ok()) return false;
                  grpc::ClientContext anonymous;
                  anonymous.set_deadline(std::chrono::system_clock::now() + 500ms);
                  without_credential =
                      stub->ListServers(&anonymous, v1::ListRequest(), &response).error_code();
                  v1::WatchEvent event;
                  grpc::ClientContext watch;
                  watch.set_deadline(std::chrono::system_clock::now() + 2s);
                  auto refused = stub->Watch(&watch, v1::WatchRequest());
                  while (refused->Read(&event)) {
                  }
                  watch_without_credential = refused->Finish().error_code();
                  grpc::ClientContext service;
                  service.set_deadline(std::chrono::system_clock::now() + 2s);
                  service.AddMetadata("authorization", "Bearer binary-test-service-token");
                  auto served = stub->Watch(&service, v1::WatchRequest());
                  watch_with_service_token = served->Read(&event) && event.has_snapshot();
                  service.TryCancel();
                  served->Finish();
                  return true;
                });
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_EQ(without_credential, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(watch_without_credential, grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_TRUE(watch_with_service_token);
  EXPECT_EQ(result.stderr_text.find("binary-test-admin-token"), std::string::npos);
  EXPECT_EQ(result.stdout_text.find("binary-test-admin-token"), std::string::npos);
  for (const std::string* text : {&result.stdout_text, &result.stderr_text}) {
    EXPECT_EQ(text->find("binary-test-service-token"), std::string::npos);
    EXPECT_EQ(text->find(crypto::Sha256Hex("binary-test-service-token")), std::string::npos);
  }
  // The log lines are on stdout, none on stderr.
  EXPECT_NE(result.stdout_text.find("\"message\":\"migration applied\""), std::string::npos);
  EXPECT_NE(result.stdout_text.find("\"message\":\"stopped\""), std::string::npos)
      << result.stdout_text;
  EXPECT_EQ(result.stderr_text.find("\"message\""), std::string::npos) << result.stderr_text;
  EXPECT_EQ((*db)->Query("SELECT count(*) FROM schema_migrations")[0][0],
            std::to_string(EmbeddedMigrationFiles().size()));
}

// --- The admin API: one object at a time ---

namespace admin {

using Stub = v1::Registry::Stub;

// Calls one unary RPC claiming to be `actor` (sent as x-sb-actor unless empty; this registry
// checks nobody, so the audit log records it as "unverified:<actor>").
template <typename Request, typename Response>
grpc::Status Rpc(Stub* stub,
                 grpc::Status (Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                 const std::type_identity_t<Request>& request, Response* response,
                 const std::string& actor = "alice") {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + 10s);
  if (!actor.empty()) context.AddMetadata("x-sb-actor", actor);
  return (stub->*method)(&context, request, response);
}

v1::Server Stdio(const std::string& name) {
  v1::Server s;
  s.set_name(name);
  s.set_type("STDIO");
  s.set_command("npx");
  (*s.mutable_env())["TOKEN"] = "env-secret";
  return s;
}

v1::Server Remote(const std::string& name) {
  v1::Server s;
  s.set_name(name);
  s.set_type("STREAMABLE_HTTP");
  s.set_url("https://example.test/mcp");
  s.set_bearer_token("bearer-secret");
  (*s.mutable_headers())["X-Api-Key"] = "header-secret";
  return s;
}

}  // namespace admin

class RegistryAdminTest : public RegistryGrpcTest {
 protected:
  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (admin::Stub::*method)(grpc::ClientContext*, const Request&,
                                                        Response*),
                    const std::type_identity_t<Request>& request, Response* response,
                    const std::string& actor = "alice") {
    return admin::Rpc(stub_.get(), method, request, response, actor);
  }

  v1::ServerResponse MustCreateServer(const v1::Server& server) {
    v1::CreateServerRequest request;
    *request.mutable_server() = server;
    v1::ServerResponse response;
    grpc::Status status = Call(&admin::Stub::CreateServer, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  v1::NamespaceResponse MustCreateNamespace(const std::string& name,
                                            const std::vector<std::string>& servers) {
    v1::CreateNamespaceRequest request;
    request.mutable_namespace_()->set_name(name);
    for (const std::string& s : servers) request.mutable_namespace_()->add_servers()->set_server(s);
    v1::NamespaceResponse response;
    grpc::Status status = Call(&admin::Stub::CreateNamespace, request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  v1::ToolOverride Override() {
    v1::ToolOverride o;
    o.set_namespace_("demo");
    o.set_server("everything");
    o.set_tool("echo");
    o.set_name("say");
    o.set_title("Say it");
    o.set_description("Repeats what you say");
    o.set_annotations(R"({"readOnlyHint":true})");
    o.set_user_requests_per_minute(30);
    return o;
  }

  int64_t GlobalRevision() {
    return std::stoll(db_->Query("SELECT revision FROM config_revision")[0][0]);
  }

  // Reads Watch events until one carries a change of `kind`; returns it.
  static std::optional<Change> NextChange(grpc::ClientReaderInterface<v1::WatchEvent>* reader,
                                          Change::Kind kind) {
    v1::WatchEvent event;
    while (reader->Read(&event)) {
      for (const Change& c : event.changes()) {
        if (c.kind() == kind) return c;
      }
    }
    return std::nullopt;
  }
};

TEST_F(RegistryAdminTest, ServerCreateGetUpdateWithOptimisticConcurrency) {
  int64_t before = GlobalRevision();
  v1::ServerResponse created = MustCreateServer(admin::Remote("remote"));
  EXPECT_EQ(created.revision(), before + 1);
  EXPECT_EQ(created.revision(), GlobalRevision());
  EXPECT_EQ(created.server().bearer_token(), "***");
  EXPECT_EQ(created.server().headers().at("X-Api-Key"), "***");

  v1::CreateServerRequest again;
  *again.mutable_server() = admin::Remote("remote");
  v1::ServerResponse response;
  grpc::Status status = Call(&admin::Stub::CreateServer, again, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::ALREADY_EXISTS);
  EXPECT_EQ(status.error_message(), "server 'remote' already exists");

  v1::GetRequest get;
  get.set_name("remote");
  ASSERT_TRUE(Call(&admin::Stub::GetServer, get, &response).ok());
  EXPECT_EQ(response.revision(), created.revision());
  EXPECT_EQ(response.server().url(), "https://example.test/mcp");
  EXPECT_EQ(response.SerializeAsString().find("secret"), std::string::npos);

  // What was read goes back with one change: the blanked secrets keep their stored values.
  v1::UpdateServerRequest update;
  *update.mutable_server() = response.server();
  update.mutable_server()->set_description("moved");
  update.set_expected_revision(response.revision());
  v1::ServerResponse updated;
  ASSERT_TRUE(Call(&admin::Stub::UpdateServer, update, &updated).ok());
  EXPECT_GT(updated.revision(), created.revision());
  EXPECT_EQ(updated.server().description(), "moved");
  auto stored = db_->Query("SELECT bearer_token, headers->>'X-Api-Key' FROM servers");
  EXPECT_EQ(stored[0][0], "bearer-secret");
  EXPECT_EQ(stored[0][1], "header-secret");

  // A second writer holding the old revision is refused and told the current one.
  update.mutable_server()->set_description("stale");
  status = Call(&admin::Stub::UpdateServer, update, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_EQ(
      status.error_message(),
      StrCat("server 'remote' is at revision ", updated.revision(), ", not expected_revision ",
             created.revision(), ": it changed since it was read; get it again and retry"));
  EXPECT_EQ(db_->Query("SELECT description FROM servers")[0][0], "moved");

  update.set_expected_revision(0);
  status = Call(&admin::Stub::UpdateServer, update, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message().rfind("expected_revision: required", 0), 0u);

  // A '***' with nothing stored behind it is an error, not a literal secret.
  update.set_expected_revision(updated.revision());
  (*update.mutable_server()->mutable_headers())["X-New"] = "***";
  status = Call(&admin::Stub::UpdateServer, update, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "server.headers.X-New: '***' keeps the stored value, but none is stored");
}

TEST_F(RegistryAdminTest, MissingObjectsAreNotFound) {
  v1::GetRequest get;
  get.set_name("ghost");
  v1::ServerResponse server;
  grpc::Status status = Call(&admin::Stub::GetServer, get, &server);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "server 'ghost' not found");
  v1::NamespaceResponse ns;
  EXPECT_EQ(Call(&admin::Stub::GetNamespace, get, &ns).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::EndpointResponse ep;
  EXPECT_EQ(Call(&admin::Stub::GetEndpoint, get, &ep).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::UserResponse user;
  get.set_name("ghost@example.com");
  EXPECT_EQ(Call(&admin::Stub::GetUser, get, &user).error_code(), grpc::StatusCode::NOT_FOUND);
  v1::ToolOverrideResponse o;
  get.set_name("demo/everything/echo");
  status = Call(&admin::Stub::GetToolOverride, get, &o);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "tool override 'demo/everything/echo' not found");

  v1::UpdateServerRequest update;
  *update.mutable_server() = admin::Stdio("ghost");
  update.set_expected_revision(1);
  EXPECT_EQ(Call(&admin::Stub::UpdateServer, update, &server).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::UpdateUserRequest update_user;
  update_user.mutable_user()->set_email("ghost@example.com");
  update_user.set_expected_revision(1);
  EXPECT_EQ(Call(&admin::Stub::UpdateUser, update_user, &user).error_code(),
            grpc::StatusCode::NOT_FOUND);
  for (Change::Kind kind : {Change::SERVER, Change::TOOL_OVERRIDE, Change::API_KEY}) {
    v1::DeleteRequest del;
    del.set_kind(kind);
    del.set_name(kind == Change::TOOL_OVERRIDE ? "demo/everything/echo" : "ghost");
    v1::DeleteResponse deleted;
    EXPECT_EQ(Call(&admin::Stub::Delete, del, &deleted).error_code(), grpc::StatusCode::NOT_FOUND)
        << Change::Kind_Name(kind);
  }
  // Nothing was written, so nothing was audited.
  EXPECT_EQ(db_->Query("SELECT count(*) FROM audit_log")[0][0], "0");
}

TEST_F(RegistryAdminTest, ValidationErrorsNameTheField) {
  MustCreateServer(admin::Stdio("everything"));
  MustCreateServer(admin::Remote("remote"));
  MustCreateNamespace("demo", {"everything"});
  struct Case {
    std::function<grpc::Status()> call;
    std::string message;
  };
  auto create_server = [&](v1::Server s) {
    return [this, s] {
      v1::CreateServerRequest r;
      *r.mutable_server() = s;
      v1::ServerResponse response;
      return Call(&admin::Stub::CreateServer, r, &response);
    };
  };
  auto create_namespace = [&](v1::Namespace ns) {
    return [this, ns] {
      v1::CreateNamespaceRequest r;
      *r.mutable_namespace_() = ns;
      v1::NamespaceResponse response;
      return Call(&admin::Stub::CreateNamespace, r, &response);
    };
  };
  auto create_endpoint = [&](v1::Endpoint ep) {
    return [this, ep] {
      v1::CreateEndpointRequest r;
      *r.mutable_endpoint() = ep;
      v1::EndpointResponse response;
      return Call(&admin::Stub::CreateEndpoint, r, &response);
    };
  };
  auto create_override = [&](v1::ToolOverride o) {
    return [this, o] {
      v1::CreateToolOverrideRequest r;
      *r.mutable_tool_override() = o;
      v1::ToolOverrideResponse response;
      return Call(&admin::Stub::CreateToolOverride, r, &response);
    };
  };
  v1::Server no_url = admin::Remote("web");
  no_url.clear_url();
  v1::Server bad_name = admin::Stdio("a__b");
  v1::Server bad_isolation = admin::Stdio("pooled");
  bad_isolation.set_isolation("per-tenant");
  v1::Server remote_pool = admin::Remote("web");
  remote_pool.set_max_processes(3);
  v1::Server min_over_max = admin::Stdio("pooled");
  min_over_max.set_min_processes(4);
  min_over_max.set_max_processes(2);
  v1::Namespace ghost_member;
  ghost_member.set_name("n");
  ghost_member.add_servers()->set_server("everything");
  ghost_member.add_servers()->set_server("ghost");
  v1::Namespace two_unprefixed;
  two_unprefixed.set_name("n");
  two_unprefixed.add_servers()->set_server("everything");
  two_unprefixed.add_servers()->set_server("remote");
  two_unprefixed.set_disable_prefix(true);
  v1::Endpoint unknown_ns;
  unknown_ns.set_name("e");
  unknown_ns.set_namespace_("x");
  v1::Endpoint bad_origin;
  bad_origin.set_name("e");
  bad_origin.set_namespace_("demo");
  bad_origin.add_allowed_origins("https://ok.example");
  bad_origin.add_allowed_origins("https://app.example/path");
  v1::Endpoint negative_limit;
  negative_limit.set_name("e");
  negative_limit.set_namespace_("demo");
  negative_limit.set_user_requests_per_minute(-1);
  v1::ToolOverride bad_json = Override();
  bad_json.set_annotations("[1, 2]");
  v1::ToolOverride not_member = Override();
  not_member.set_server("remote");
  v1::ToolOverride bad_rename = Override();
  bad_rename.set_name("say it");
  std::vector<Case> cases = {
      {create_server(no_url), "server.url: required for type STREAMABLE_HTTP"},
      {create_server(bad_name),
       "server.name: 'a__b' may not contain '__' (the tool prefix separator)"},
      {create_server(bad_isolation),
       "server.isolation: must be one of shared, per-user, per-session, got 'per-tenant'"},
      {create_server(remote_pool),
       "server: process pool settings (isolation, minProcesses, ..., cwd, limit*) are only "
       "allowed for type STDIO"},
      {create_server(min_over_max), "server.minProcesses: must not exceed maxProcesses (2), got 4"},
      {create_namespace(ghost_member), "namespace.servers[1]: unknown server 'ghost'"},
      {create_namespace(two_unprefixed),
       "namespace.prefix: can only be turned off with a single server"},
      {create_endpoint(unknown_ns), "endpoint.namespace: unknown namespace 'x'"},
      {create_endpoint(bad_origin),
       "endpoint.allowed_origins[1]: 'https://app.example/path' is not an origin: use \"*\" or "
       "scheme://host[:port] (no path)"},
      {create_endpoint(negative_limit),
       "endpoint.user_requests_per_minute: must be 0 (unlimited) or more"},
      {[this] {
         v1::CreateUserRequest r;
         r.mutable_user()->set_email("nobody");
         v1::UserResponse response;
         return Call(&admin::Stub::CreateUser, r, &response);
       },
       "user.email: 'nobody' is not an email address"},
      {create_override(bad_json), "tool_override.annotations: must be a JSON object"},
      {create_override(not_member),
       "tool_override.server: server 'remote' is not in namespace 'demo'"},
      {create_override(bad_rename),
       "tool_override.name: 'say it' is not a tool name: 1-128 of letters, digits, '_', '-' and "
       "'.'"},
  };
  int64_t revision = GlobalRevision();
  for (const Case& c : cases) {
    grpc::Status status = c.call();
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.message;
    EXPECT_EQ(status.error_message(), c.message);
  }
  EXPECT_EQ(GlobalRevision(), revision);  // nothing was written
}

TEST_F(RegistryAdminTest, NamespacesEndpointsAndUsersRoundTrip) {
  MustCreateServer(admin::Stdio("a"));
  MustCreateServer(admin::Stdio("b"));
  v1::CreateNamespaceRequest create_ns;
  create_ns.mutable_namespace_()->set_name("demo");
  create_ns.mutable_namespace_()->set_description("two servers");
  create_ns.mutable_namespace_()->add_servers()->set_server("b");
  auto* member = create_ns.mutable_namespace_()->add_servers();
  member->set_server("a");
  member->set_disabled(true);
  v1::NamespaceResponse ns;
  ASSERT_TRUE(Call(&admin::Stub::CreateNamespace, create_ns, &ns).ok());
  v1::GetRequest get;
  get.set_name("demo");
  ASSERT_TRUE(Call(&admin::Stub::GetNamespace, get, &ns).ok());
  ASSERT_EQ(ns.namespace_().servers_size(), 2);
  EXPECT_EQ(ns.namespace_().servers(0).server(), "b");
  EXPECT_EQ(ns.namespace_().servers(1).server(), "a");
  EXPECT_TRUE(ns.namespace_().servers(1).disabled());

  // One server left, prefix off.
  v1::UpdateNamespaceRequest update_ns;
  *update_ns.mutable_namespace_() = ns.namespace_();
  update_ns.mutable_namespace_()->mutable_servers()->RemoveLast();
  update_ns.mutable_namespace_()->set_disable_prefix(true);
  update_ns.set_expected_revision(ns.revision());
  v1::NamespaceResponse updated_ns;
  ASSERT_TRUE(Call(&admin::Stub::UpdateNamespace, update_ns, &updated_ns).ok());
  EXPECT_GT(updated_ns.revision(), ns.revision());
  EXPECT_TRUE(updated_ns.namespace_().disable_prefix());
  EXPECT_EQ(updated_ns.namespace_().servers_size(), 1);

  v1::CreateEndpointRequest create_ep;
  v1::Endpoint* ep = create_ep.mutable_endpoint();
  ep->set_name("demo");
  ep->set_namespace_("demo");
  ep->set_enable_api_key_auth(true);
  ep->set_use_query_param_auth(true);
  ep->set_user_requests_per_minute(60);
  ep->set_requests_per_minute(600);
  ep->add_allowed_origins("https://app.example.com");
  ep->add_allowed_origins("http://localhost:3000");
  v1::EndpointResponse created_ep;
  ASSERT_TRUE(Call(&admin::Stub::CreateEndpoint, create_ep, &created_ep).ok());
  v1::EndpointResponse got_ep;
  ASSERT_TRUE(Call(&admin::Stub::GetEndpoint, get, &got_ep).ok());
  EXPECT_EQ(got_ep.endpoint().SerializeAsString(), create_ep.endpoint().SerializeAsString());
  EXPECT_EQ(got_ep.revision(), created_ep.revision());
  v1::UpdateEndpointRequest update_ep;
  *update_ep.mutable_endpoint() = got_ep.endpoint();
  update_ep.mutable_endpoint()->set_requests_per_minute(0);
  update_ep.set_expected_revision(got_ep.revision());
  ASSERT_TRUE(Call(&admin::Stub::UpdateEndpoint, update_ep, &got_ep).ok());
  EXPECT_EQ(got_ep.endpoint().requests_per_minute(), 0);
  EXPECT_EQ(got_ep.endpoint().allowed_origins_size(), 2);

  // The existing list call shows the new fields too.
  v1::ListEndpointsResponse list;
  ASSERT_TRUE(Call(&admin::Stub::ListEndpoints, v1::ListRequest(), &list).ok());
  ASSERT_EQ(list.endpoints_size(), 1);
  EXPECT_EQ(list.endpoints(0).user_requests_per_minute(), 60);

  v1::CreateUserRequest create_user;
  create_user.mutable_user()->set_email("dev@example.com");
  create_user.mutable_user()->set_name("Dev");
  v1::UserResponse user;
  ASSERT_TRUE(Call(&admin::Stub::CreateUser, create_user, &user).ok());
  v1::UpdateUserRequest update_user;
  *update_user.mutable_user() = user.user();
  update_user.mutable_user()->set_is_admin(true);
  update_user.set_expected_revision(user.revision());
  v1::UserResponse updated_user;
  ASSERT_TRUE(Call(&admin::Stub::UpdateUser, update_user, &updated_user).ok());
  EXPECT_TRUE(updated_user.user().is_admin());
  // A stale update of the user is refused.
  update_user.mutable_user()->set_name("Stale");
  grpc::Status status = Call(&admin::Stub::UpdateUser, update_user, &user);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find(StrCat("revision ", updated_user.revision())),
            std::string::npos)
      << status.error_message();
}

TEST_F(RegistryAdminTest, AnObjectsRevisionMovesOnlyWhenItChanges) {
  v1::ServerResponse a = MustCreateServer(admin::Stdio("a"));
  v1::ServerResponse b = MustCreateServer(admin::Stdio("b"));
  EXPECT_EQ(b.revision(), a.revision() + 1);
  v1::GetRequest get;
  get.set_name("a");
  v1::ServerResponse got;
  ASSERT_TRUE(Call(&admin::Stub::GetServer, get, &got).ok());
  EXPECT_EQ(got.revision(), a.revision());  // b's write did not touch a
  // An edit by hand in psql moves it too.
  db_->Query("UPDATE servers SET description = 'by hand' WHERE name = 'a'");
  ASSERT_TRUE(Call(&admin::Stub::GetServer, get, &got).ok());
  EXPECT_EQ(got.revision(), GlobalRevision());
  EXPECT_GT(got.revision(), b.revision());
  // So does a membership change to a namespace.
  v1::NamespaceResponse ns = MustCreateNamespace("n", {"a"});
  db_->Query("UPDATE namespace_servers SET disabled = true WHERE namespace_name = 'n'");
  get.set_name("n");
  v1::NamespaceResponse got_ns;
  ASSERT_TRUE(Call(&admin::Stub::GetNamespace, get, &got_ns).ok());
  EXPECT_GT(got_ns.revision(), ns.revision());
  EXPECT_EQ(got_ns.revision(), GlobalRevision());
}

TEST_F(RegistryAdminTest, ToolOverridesCrudAndWatch) {
  MustApply(Demo());
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() + 30s);
  auto reader = stub_->Watch(&watch_context, v1::WatchRequest());
  v1::WatchEvent first;
  ASSERT_TRUE(reader->Read(&first));
  EXPECT_EQ(first.snapshot().tool_overrides_size(), 0);

  v1::CreateToolOverrideRequest create;
  *create.mutable_tool_override() = Override();
  v1::ToolOverrideResponse created;
  ASSERT_TRUE(Call(&admin::Stub::CreateToolOverride, create, &created).ok());
  EXPECT_EQ(created.tool_override().SerializeAsString(), Override().SerializeAsString());
  std::optional<Change> change = NextChange(reader.get(), Change::TOOL_OVERRIDE);
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->op(), Change::UPSERT);
  EXPECT_EQ(change->name(), "demo/everything/echo");
  EXPECT_EQ(change->tool_override().name(), "say");

  v1::GetRequest get;
  get.set_name("demo/everything/echo");
  v1::ToolOverrideResponse got;
  ASSERT_TRUE(Call(&admin::Stub::GetToolOverride, get, &got).ok());
  EXPECT_EQ(got.revision(), created.revision());
  EXPECT_EQ(got.tool_override().annotations(), R"({"readOnlyHint":true})");
  EXPECT_EQ(got.tool_override().user_requests_per_minute(), 30);

  // A second override may not take the same name in the namespace.
  v1::CreateToolOverrideRequest clash;
  *clash.mutable_tool_override() = Override();
  clash.mutable_tool_override()->set_server("remote");
  clash.mutable_tool_override()->set_tool("shout");
  v1::ToolOverrideResponse response;
  grpc::Status status = Call(&admin::Stub::CreateToolOverride, clash, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(),
            "tool_override.name: 'say' is already the name of tool override "
            "'demo/everything/echo'");
  clash.mutable_tool_override()->set_name("");
  clash.mutable_tool_override()->set_disabled(true);
  ASSERT_TRUE(Call(&admin::Stub::CreateToolOverride, clash, &response).ok());

  v1::UpdateToolOverrideRequest update;
  *update.mutable_tool_override() = got.tool_override();
  update.mutable_tool_override()->set_disabled(true);
  update.mutable_tool_override()->set_title("");
  update.set_expected_revision(got.revision());
  v1::ToolOverrideResponse updated;
  ASSERT_TRUE(Call(&admin::Stub::UpdateToolOverride, update, &updated).ok());
  EXPECT_TRUE(updated.tool_override().disabled());
  change = NextChange(reader.get(), Change::TOOL_OVERRIDE);
  ASSERT_TRUE(change.has_value());
  // (The clash's create may come first; read on to the update.)
  if (change->name() != "demo/everything/echo") {
    change = NextChange(reader.get(), Change::TOOL_OVERRIDE);
    ASSERT_TRUE(change.has_value());
  }
  EXPECT_TRUE(change->tool_override().disabled());
  status = Call(&admin::Stub::UpdateToolOverride, update, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);

  v1::ListToolOverridesRequest list_request;
  list_request.set_namespace_("demo");
  v1::ListToolOverridesResponse list;
  ASSERT_TRUE(Call(&admin::Stub::ListToolOverrides, list_request, &list).ok());
  ASSERT_EQ(list.tool_overrides_size(), 2);
  EXPECT_EQ(list.tool_overrides(0).tool(), "echo");
  EXPECT_EQ(list.tool_overrides(1).server(), "remote");
  list_request.set_namespace_("other");
  ASSERT_TRUE(Call(&admin::Stub::ListToolOverrides, list_request, &list).ok());
  EXPECT_EQ(list.tool_overrides_size(), 0);

  v1::DeleteRequest del;
  del.set_kind(Change::TOOL_OVERRIDE);
  del.set_name("demo/everything/echo");
  v1::DeleteResponse deleted;
  ASSERT_TRUE(Call(&admin::Stub::Delete, del, &deleted).ok());
  change = NextChange(reader.get(), Change::TOOL_OVERRIDE);
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->op(), Change::DELETE);
  EXPECT_EQ(change->name(), "demo/everything/echo");

  // Deleting the namespace takes its remaining overrides with it.
  del.set_kind(Change::ENDPOINT);
  del.set_name("demo");
  ASSERT_TRUE(Call(&admin::Stub::Delete, del, &deleted).ok());
  del.set_kind(Change::NAMESPACE);
  ASSERT_TRUE(Call(&admin::Stub::Delete, del, &deleted).ok());
  change = NextChange(reader.get(), Change::TOOL_OVERRIDE);
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->op(), Change::DELETE);
  EXPECT_EQ(change->name(), "demo/remote/shout");
  watch_context.TryCancel();
  reader->Finish();

  // A new watcher's snapshot carries overrides.
  v1::CreateNamespaceRequest ns;
  ns.mutable_namespace_()->set_name("demo");
  ns.mutable_namespace_()->add_servers()->set_server("everything");
  v1::NamespaceResponse ns_response;
  ASSERT_TRUE(Call(&admin::Stub::CreateNamespace, ns, &ns_response).ok());
  ASSERT_TRUE(Call(&admin::Stub::CreateToolOverride, create, &created).ok());
  grpc::ClientContext second_context;
  second_context.set_deadline(std::chrono::system_clock::now() + 10s);
  auto second = stub_->Watch(&second_context, v1::WatchRequest());
  ASSERT_TRUE(second->Read(&first));
  ASSERT_EQ(first.snapshot().tool_overrides_size(), 1);
  EXPECT_EQ(first.snapshot().tool_overrides(0).name(), "say");
  second_context.TryCancel();
  second->Finish();
}

TEST_F(RegistryAdminTest, ApiKeysCarryExpiryAndScopeListWithoutHashesAndRevoke) {
  MustApply(Demo());
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() + 30s);
  auto reader = stub_->Watch(&watch_context, v1::WatchRequest());
  v1::WatchEvent first;
  ASSERT_TRUE(reader->Read(&first));

  const int64_t expires = std::time(nullptr) + 3600;
  v1::CreateApiKeyRequest request;
  request.set_user_email("dev@example.com");
  request.set_name("ci");
  request.set_expires_unix(expires);
  request.add_endpoints("demo");
  v1::CreateApiKeyResponse created;
  ASSERT_TRUE(Call(&admin::Stub::CreateApiKey, request, &created).ok());
  EXPECT_EQ(created.api_key().expires_unix(), expires);

  // Auth sees the key with its hash, expiry and scope.
  std::optional<Change> change = NextChange(reader.get(), Change::API_KEY);
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->op(), Change::UPSERT);
  EXPECT_EQ(change->api_key().key_sha256(), crypto::Sha256Hex(created.key()));
  EXPECT_EQ(change->api_key().expires_unix(), expires);
  ASSERT_EQ(change->api_key().endpoints_size(), 1);
  EXPECT_EQ(change->api_key().endpoints(0), "demo");

  // Admins see the prefix, never the hash or the key.
  v1::CreateApiKeyRequest other;
  other.set_user_email("dev@example.com");
  v1::CreateApiKeyResponse other_created;
  ASSERT_TRUE(Call(&admin::Stub::CreateApiKey, other, &other_created).ok());
  EXPECT_EQ(other_created.api_key().expires_unix(), 0);
  v1::ListApiKeysResponse list;
  ASSERT_TRUE(Call(&admin::Stub::ListApiKeys, v1::ListApiKeysRequest(), &list).ok());
  ASSERT_EQ(list.api_keys_size(), 2);
  for (const v1::ApiKey& key : list.api_keys()) {
    EXPECT_TRUE(key.key_sha256().empty());
    EXPECT_EQ(key.user_email(), "dev@example.com");
    EXPECT_GT(key.created_unix(), 1600000000);
  }
  EXPECT_EQ(list.SerializeAsString().find(created.key()), std::string::npos);
  EXPECT_EQ(list.SerializeAsString().find(crypto::Sha256Hex(created.key())), std::string::npos);
  const v1::ApiKey& ci =
      list.api_keys(0).id() == created.api_key().id() ? list.api_keys(0) : list.api_keys(1);
  EXPECT_EQ(ci.prefix(), created.key().substr(0, 8));
  EXPECT_EQ(ci.name(), "ci");
  EXPECT_EQ(ci.expires_unix(), expires);
  v1::ListApiKeysRequest by_user;
  by_user.set_user_email("nobody@example.com");
  ASSERT_TRUE(Call(&admin::Stub::ListApiKeys, by_user, &list).ok());
  EXPECT_EQ(list.api_keys_size(), 0);

  // Bad expiry or scope.
  v1::CreateApiKeyRequest bad = request;
  bad.set_expires_unix(1000);
  v1::CreateApiKeyResponse response;
  grpc::Status status = Call(&admin::Stub::CreateApiKey, bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "expires_unix: must be in the future (or 0 for never)");
  bad = request;
  bad.add_endpoints("ghost");
  status = Call(&admin::Stub::CreateApiKey, bad, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "endpoints[1]: unknown endpoint 'ghost'");

  // Revoking is a delete that watchers see at once.
  v1::DeleteRequest revoke;
  revoke.set_kind(Change::API_KEY);
  revoke.set_name(created.api_key().id());
  v1::DeleteResponse revoked;
  ASSERT_TRUE(Call(&admin::Stub::Delete, revoke, &revoked).ok());
  change = NextChange(reader.get(), Change::API_KEY);
  ASSERT_TRUE(change.has_value());
  if (change->op() == Change::UPSERT) change = NextChange(reader.get(), Change::API_KEY);
  ASSERT_TRUE(change.has_value());
  EXPECT_EQ(change->op(), Change::DELETE);
  EXPECT_EQ(change->name(), created.api_key().id());
  ASSERT_TRUE(Call(&admin::Stub::ListApiKeys, v1::ListApiKeysRequest(), &list).ok());
  EXPECT_EQ(list.api_keys_size(), 1);
  watch_context.TryCancel();
  reader->Finish();
}

TEST_F(RegistryAdminTest, KeyUseIsKeptWithoutMovingTheRevision) {
  MustApply(Demo());
  v1::CreateApiKeyRequest request;
  request.set_user_email("dev@example.com");
  v1::CreateApiKeyResponse created;
  ASSERT_TRUE(Call(&admin::Stub::CreateApiKey, request, &created).ok());
  const std::string id = created.api_key().id();
  v1::ListApiKeysResponse list;
  ASSERT_TRUE(Call(&admin::Stub::ListApiKeys, v1::ListApiKeysRequest(), &list).ok());
  ASSERT_EQ(list.api_keys_size(), 1);
  EXPECT_EQ(list.api_keys(0).last_used_unix(), 0);  // never used

  v1::GetRequest get;
  get.set_name("demo");
  v1::EndpointResponse before;
  ASSERT_TRUE(Call(&admin::Stub::GetEndpoint, get, &before).ok());
  grpc::ClientContext watch_context;
  watch_context.set_deadline(std::chrono::system_clock::now() + 30s);
  auto reader = stub_->Watch(&watch_context, v1::WatchRequest());
  v1::WatchEvent first;
  ASSERT_TRUE(reader->Read(&first));

  // The latest report wins; an older one and unknown ids change nothing.
  v1::RecordApiKeyUseRequest use;
  auto* u = use.add_uses();
  u->set_id(id);
  u->set_used_unix(1800000000);
  auto* ghost = use.add_uses();
  ghost->set_id("no-such-key");
  ghost->set_used_unix(1800000000);
  v1::RecordApiKeyUseResponse recorded;
  ASSERT_TRUE(Call(&admin::Stub::RecordApiKeyUse, use, &recorded).ok());
  u->set_used_unix(1700000000);
  ASSERT_TRUE(Call(&admin::Stub::RecordApiKeyUse, use, &recorded).ok());
  ASSERT_TRUE(Call(&admin::Stub::ListApiKeys, v1::ListApiKeysRequest(), &list).ok());
  EXPECT_EQ(list.api_keys(0).last_used_unix(), 1800000000);

  // Usage is not configuration: the revision stays.
  EXPECT_EQ(GlobalRevision(), first.revision());
  v1::EndpointResponse after;
  ASSERT_TRUE(Call(&admin::Stub::GetEndpoint, get, &after).ok());
  EXPECT_EQ(after.revision(), before.revision());
  watch_context.TryCancel();
  reader->Finish();
}

TEST_F(RegistryAdminTest, EveryWriteIsAuditedWithSecretsRedacted) {
  v1::ServerResponse created = MustCreateServer(admin::Remote("remote"));
  v1::UpdateServerRequest update;
  *update.mutable_server() = admin::Remote("remote");
  update.mutable_server()->set_bearer_token("rotated-secret");
  update.set_expected_revision(created.revision());
  v1::ServerResponse updated;
  ASSERT_TRUE(Call(&admin::Stub::UpdateServer, update, &updated).ok());
  {
    // Apply and key creation are audited too; this caller gives no name.
    v1::ApplyRequest apply = Demo();
    apply.clear_servers();
    apply.clear_namespaces();
    apply.clear_endpoints();
    v1::ApplyResponse applied;
    ASSERT_TRUE(admin::Rpc(stub_.get(), &admin::Stub::Apply, apply, &applied, "").ok());
  }
  v1::CreateApiKeyRequest key_request;
  key_request.set_user_email("dev@example.com");
  v1::CreateApiKeyResponse key;
  ASSERT_TRUE(Call(&admin::Stub::CreateApiKey, key_request, &key, "bob").ok());
  v1::DeleteRequest del;
  del.set_kind(Change::SERVER);
  del.set_name("remote");
  v1::DeleteResponse deleted;
  ASSERT_TRUE(Call(&admin::Stub::Delete, del, &deleted).ok());
  int64_t revision = GlobalRevision();

  v1::ListAuditResponse audit;
  ASSERT_TRUE(Call(&admin::Stub::ListAudit, v1::ListAuditRequest(), &audit).ok());
  ASSERT_EQ(audit.entries_size(), 5);
  std::vector<std::string> seen;
  for (const v1::AuditEntry& e : audit.entries()) {
    seen.push_back(
        StrCat(e.actor(), " ", e.action(), " ", Change::Kind_Name(e.kind()), " ", e.name()));
    EXPECT_GT(e.at_unix(), 1600000000);
  }
  // Nobody is checked in this registry (AdminAccess.required unset), so the names callers give
  // themselves are kept, marked as unverified (registry_admin_pgtest.cc has the checked case).
  EXPECT_EQ(seen, (std::vector<std::string>{
                      "unverified:alice delete SERVER remote",
                      StrCat("unverified:bob create API_KEY ", key.api_key().id()),
                      "unknown apply USER dev@example.com",
                      "unverified:alice update SERVER remote",
                      "unverified:alice create SERVER remote",
                  }));
  EXPECT_GT(audit.entries(0).id(), audit.entries(1).id());
  // Before and after are there (as Postgres prints jsonb), with every secret (and the key's
  // hash) redacted.
  const v1::AuditEntry& update_entry = audit.entries(3);
  EXPECT_NE(update_entry.before_json().find("\"bearer_token\": \"***\""), std::string::npos)
      << update_entry.before_json();
  EXPECT_NE(update_entry.after_json().find("\"url\": \"https://example.test/mcp\""),
            std::string::npos)
      << update_entry.after_json();
  EXPECT_TRUE(audit.entries(4).before_json().empty());
  EXPECT_TRUE(audit.entries(0).after_json().empty());
  EXPECT_NE(audit.entries(1).after_json().find(key.api_key().prefix()), std::string::npos);
  std::string everything =
      audit.SerializeAsString() + db_->Query(
                                      "SELECT string_agg(row_to_json(a)::text, '') "
                                      "FROM audit_log a")[0][0];
  for (const std::string& secret :
       {std::string("bearer-secret"), std::string("rotated-secret"), std::string("header-secret"),
        key.key(), crypto::Sha256Hex(key.key())}) {
    EXPECT_EQ(everything.find(secret), std::string::npos) << secret;
  }
  // Writing the audit log does not move the configuration's revision.
  EXPECT_EQ(revision, deleted.revision());

  v1::ListAuditRequest filter;
  filter.set_kind(Change::SERVER);
  filter.set_name("remote");
  filter.set_limit(2);
  ASSERT_TRUE(Call(&admin::Stub::ListAudit, filter, &audit).ok());
  ASSERT_EQ(audit.entries_size(), 2);
  EXPECT_EQ(audit.entries(0).action(), "delete");
  EXPECT_EQ(audit.entries(1).action(), "update");
  filter = v1::ListAuditRequest();
  filter.set_since_unix(std::time(nullptr) + 3600);
  ASSERT_TRUE(Call(&admin::Stub::ListAudit, filter, &audit).ok());
  EXPECT_EQ(audit.entries_size(), 0);
  filter.set_limit(5000);
  grpc::Status status = Call(&admin::Stub::ListAudit, filter, &audit);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(status.error_message(), "limit: must be between 0 and 1000");
}

}  // namespace
}  // namespace switchboard::registry

namespace switchboard::registry {
namespace {

// Demo() plus a tool override, as a file holding everything would apply it.
v1::ApplyRequest DemoWithOverride() {
  v1::ApplyRequest r = Demo();
  auto* o = r.add_tool_overrides();
  o->set_namespace_("demo");
  o->set_server("everything");
  o->set_tool("echo");
  o->set_name("say");
  return r;
}

std::vector<std::string> Actions(const v1::ApplyResponse& response) {
  std::vector<std::string> out;
  for (const auto& d : response.diff()) {
    out.push_back(v1::ObjectDiff::Action_Name(d.action()) + " " + Change::Kind_Name(d.kind()) +
                  " " + d.name());
  }
  return out;
}

TEST_F(RegistryGrpcTest, ApplyModesPruneRemovesCreateOnlyKeepsDryRunWritesNothing) {
  v1::ApplyResponse first = MustApply(DemoWithOverride());
  EXPECT_EQ(Actions(first),
            (std::vector<std::string>{"ADDED SERVER everything", "ADDED SERVER remote",
                                      "ADDED NAMESPACE demo", "ADDED ENDPOINT demo",
                                      "ADDED USER dev@example.com",
                                      "ADDED TOOL_OVERRIDE demo/everything/echo"}));
  ASSERT_EQ(db_->Query("SELECT count(*) FROM tool_overrides")[0][0], "1");
  grpc::ClientContext key_context;
  v1::CreateApiKeyRequest key_request;
  key_request.set_user_email("dev@example.com");
  v1::CreateApiKeyResponse key;
  ASSERT_TRUE(stub_->CreateApiKey(&key_context, key_request, &key).ok());

  // CREATE_ONLY: an existing server is left as it is, a new one is created.
  v1::ApplyRequest create_only = Demo();
  create_only.set_mode(v1::ApplyRequest::CREATE_ONLY);
  create_only.mutable_servers(0)->set_command("changed");
  auto* extra = create_only.add_servers();
  extra->set_name("extra");
  extra->set_type("STDIO");
  extra->set_command("x");
  v1::ApplyResponse kept = MustApply(create_only);
  EXPECT_EQ(kept.diff(0).action(), v1::ObjectDiff::UNCHANGED);
  EXPECT_EQ(Actions(kept)[2], "ADDED SERVER extra");
  EXPECT_EQ(db_->Query("SELECT command FROM servers WHERE name = 'everything'")[0][0], "npx");

  // A changed secret shows masked in the diff.
  v1::ApplyRequest rotate = DemoWithOverride();
  (*rotate.mutable_servers(0)->mutable_env())["TOKEN"] = "rotated-secret";
  rotate.set_dry_run(true);
  v1::ApplyResponse planned = MustApply(rotate);
  ASSERT_EQ(planned.diff(0).action(), v1::ObjectDiff::CHANGED);
  ASSERT_EQ(planned.diff(0).fields_size(), 1);
  EXPECT_EQ(planned.diff(0).fields(0).field(), "env.TOKEN");
  EXPECT_EQ(planned.diff(0).fields(0).after(), "\"***\"");
  EXPECT_EQ(planned.DebugString().find("rotated-secret"), std::string::npos);
  EXPECT_EQ(planned.DebugString().find("env-secret"), std::string::npos);

  // PRUNE as a dry run plans the removals and writes nothing.
  int64_t before = kept.revision();
  v1::ApplyRequest prune;
  prune.set_mode(v1::ApplyRequest::PRUNE);
  *prune.add_servers() = Demo().servers(0);
  (*prune.mutable_servers(0)->mutable_env())["TOKEN"] = "***";  // keeps the stored value
  prune.add_users()->set_email("dev@example.com");
  prune.set_dry_run(true);
  v1::ApplyResponse dry = MustApply(prune);
  EXPECT_EQ(Actions(dry), (std::vector<std::string>{
                              "UNCHANGED SERVER everything", "UNCHANGED USER dev@example.com",
                              "REMOVED TOOL_OVERRIDE demo/everything/echo", "REMOVED ENDPOINT demo",
                              "REMOVED NAMESPACE demo", "REMOVED SERVER extra",
                              "REMOVED SERVER remote"}));
  EXPECT_EQ(dry.revision(), before);
  EXPECT_EQ(db_->Query("SELECT count(*) FROM servers")[0][0], "3");

  // PRUNE for real: removed in dependency order, audited, API keys kept.
  prune.set_dry_run(false);
  v1::ApplyResponse pruned = MustApply(prune);
  EXPECT_EQ(Actions(pruned), Actions(dry));
  EXPECT_GT(pruned.revision(), before);
  EXPECT_EQ(db_->Query("SELECT name FROM servers"), (std::vector<std::vector<std::string>>{
                                                        {"everything"}}));
  EXPECT_EQ(db_->Query("SELECT count(*) FROM namespaces")[0][0], "0");
  EXPECT_EQ(db_->Query("SELECT count(*) FROM endpoints")[0][0], "0");
  EXPECT_EQ(db_->Query("SELECT count(*) FROM tool_overrides")[0][0], "0");
  EXPECT_EQ(db_->Query("SELECT count(*) FROM api_keys")[0][0], "1");
  EXPECT_EQ(db_->Query("SELECT env->>'TOKEN' FROM servers")[0][0], "env-secret");
  auto audit = db_->Query(
      "SELECT action, kind, name, after IS NULL FROM audit_log WHERE action = 'apply' AND "
      "after IS NULL ORDER BY id");
  EXPECT_EQ(audit, (std::vector<std::vector<std::string>>{
                       {"apply", "TOOL_OVERRIDE", "demo/everything/echo", "t"},
                       {"apply", "ENDPOINT", "demo", "t"},
                       {"apply", "NAMESPACE", "demo", "t"},
                       {"apply", "SERVER", "extra", "t"},
                       {"apply", "SERVER", "remote", "t"}}));

  // Applying the same again changes nothing.
  prune.mutable_servers(0)->mutable_env()->at("TOKEN") = "env-secret";
  v1::ApplyResponse again = MustApply(prune);
  EXPECT_EQ(again.changes_size(), 0);
  EXPECT_EQ(again.revision(), pruned.revision());
}

TEST_F(RegistryGrpcTest, WatchResumesFromARevisionOrFallsBackToASnapshot) {
  v1::ApplyResponse first = MustApply(Demo());
  v1::ApplyRequest add;
  auto* server = add.add_servers();
  server->set_name("third");
  server->set_type("STDIO");
  server->set_command("deno");
  v1::ApplyResponse second = MustApply(add);
  ASSERT_GT(second.revision(), first.revision());

  auto first_event = [&](int64_t from) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + 10s);
    v1::WatchRequest request;
    request.set_watcher("resume-test");
    request.set_from_revision(from);
    auto reader = stub_->Watch(&context, request);
    v1::WatchEvent event;
    EXPECT_TRUE(reader->Read(&event));
    context.TryCancel();
    reader->Finish();
    return event;
  };
  // From the revision before the last apply: only that apply's change.
  v1::WatchEvent resumed = first_event(first.revision());
  EXPECT_FALSE(resumed.has_snapshot());
  EXPECT_EQ(resumed.revision(), second.revision());
  ASSERT_EQ(resumed.changes_size(), 1);
  EXPECT_EQ(resumed.changes(0).server().name(), "third");
  // Already current: the revision alone.
  v1::WatchEvent current = first_event(second.revision());
  EXPECT_FALSE(current.has_snapshot());
  EXPECT_EQ(current.revision(), second.revision());
  EXPECT_EQ(current.changes_size(), 0);
  // Newer than the registry's, or older than it kept: a snapshot.
  for (int64_t from : {second.revision() + 100, int64_t{0}}) {
    v1::WatchEvent snapshot = first_event(from);
    EXPECT_TRUE(snapshot.has_snapshot()) << from;
    EXPECT_EQ(snapshot.revision(), second.revision());
    EXPECT_EQ(snapshot.snapshot().servers_size(), 3);
  }
}

}  // namespace
}  // namespace switchboard::registry

namespace switchboard::registry {
namespace {

TEST_F(RegistryGrpcTest, ApplyRefusesToolNamesClientsCouldNotUseAndSuggestsTheOverride) {
  MustApply(DemoWithOverride());
  // What the router saw: a tool whose prefixed name is over MCP's 128 characters, and two
  // servers with a tool of the same name.
  std::string long_tool(125, 'l');
  v1::RecordServerToolsRequest report;
  auto* everything = report.add_servers();
  everything->set_server("everything");
  everything->add_tools("echo");
  everything->add_tools("add");
  auto* remote = report.add_servers();
  remote->set_server("remote");
  remote->add_tools("add");
  remote->add_tools(long_tool);
  report.add_servers()->set_server("not-a-server");  // ignored
  {
    grpc::ClientContext context;
    v1::RecordServerToolsResponse response;
    ASSERT_TRUE(stub_->RecordServerTools(&context, report, &response).ok());
  }
  EXPECT_EQ(db_->Query("SELECT count(*) FROM server_tools")[0][0], "2");
  auto apply = [&](const v1::ApplyRequest& request) {
    grpc::ClientContext context;
    v1::ApplyResponse response;
    return stub_->Apply(&context, request, &response);
  };

  // The long name was there before anything checked it: applying the same again passes (the
  // router leaves that tool out and reports it).
  EXPECT_TRUE(apply(DemoWithOverride()).ok());

  // A rename that takes the name another tool is listed under is refused, dry run or not,
  // with the field and a fix.
  for (bool dry_run : {true, false}) {
    v1::ApplyRequest clash = DemoWithOverride();
    clash.set_dry_run(dry_run);
    clash.mutable_tool_overrides(0)->set_name("remote__add");
    grpc::Status status = apply(clash);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_EQ(status.error_message(),
              "namespaces[demo]: tool 'add' of server 'remote' would be listed as "
              "'remote__add', the name tool 'everything/echo' already has; rename one with a "
              "tool override, e.g. {namespace: demo, server: remote, tool: add, name: "
              "remote__add_2}");
  }
  // So is a new namespace that would list the long name, with a shortened name to use.
  v1::ApplyRequest wide = Demo();
  wide.clear_endpoints();
  wide.mutable_namespaces(0)->set_name("wide");
  grpc::Status status = apply(wide);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(),
              testing::StartsWith(StrCat("namespaces[wide]: tool '", long_tool,
                                         "' of server 'remote' would be listed as 'remote__")));
  EXPECT_THAT(status.error_message(),
              testing::HasSubstr("133 characters (MCP allows 128); rename it with a tool "
                                 "override, e.g. {namespace: wide, server: remote, tool: "));
  // Following the advice works: the suggested name is taken as it is.
  std::string message = status.error_message();
  std::string suggested = message.substr(message.rfind("name: ") + 6);
  suggested.pop_back();  // the closing brace
  EXPECT_LE(suggested.size(), 128u);
  auto* fix = wide.add_tool_overrides();
  fix->set_namespace_("wide");
  fix->set_server("remote");
  fix->set_tool(long_tool);
  fix->set_name(suggested);
  EXPECT_TRUE(apply(wide).ok()) << apply(wide).error_message();

  // The single-object API checks too.
  v1::UpdateToolOverrideRequest update;
  update.mutable_tool_override()->CopyFrom(DemoWithOverride().tool_overrides(0));
  update.mutable_tool_override()->set_name("remote__add");
  {
    grpc::ClientContext context;
    v1::GetRequest get;
    get.set_name("demo/everything/echo");
    v1::ToolOverrideResponse current;
    ASSERT_TRUE(stub_->GetToolOverride(&context, get, &current).ok());
    update.set_expected_revision(current.revision());
  }
  grpc::ClientContext context;
  v1::ToolOverrideResponse updated;
  status = stub_->UpdateToolOverride(&context, update, &updated);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), testing::HasSubstr("would be listed as 'remote__add'"));
}

TEST_F(RegistryGrpcTest, ANamespaceThatDropsAServerDropsItsOverrides) {
  MustApply(DemoWithOverride());
  // Upsert mode: the namespace without "everything" takes its override with it, in the diff.
  v1::ApplyRequest drop = Demo();
  drop.mutable_namespaces(0)->mutable_servers()->DeleteSubrange(0, 1);
  v1::ApplyResponse dropped = MustApply(drop);
  EXPECT_EQ(Actions(dropped),
            (std::vector<std::string>{"UNCHANGED SERVER everything", "UNCHANGED SERVER remote",
                                      "CHANGED NAMESPACE demo", "UNCHANGED ENDPOINT demo",
                                      "UNCHANGED USER dev@example.com",
                                      "REMOVED TOOL_OVERRIDE demo/everything/echo"}));
  EXPECT_EQ(db_->Query("SELECT count(*) FROM tool_overrides")[0][0], "0");

  // The single-object update does the same, and audits it.
  MustApply(DemoWithOverride());
  ASSERT_EQ(db_->Query("SELECT count(*) FROM tool_overrides")[0][0], "1");
  v1::GetRequest get;
  get.set_name("demo");
  v1::NamespaceResponse current;
  {
    grpc::ClientContext context;
    ASSERT_TRUE(stub_->GetNamespace(&context, get, &current).ok());
  }
  v1::UpdateNamespaceRequest update;
  *update.mutable_namespace_() = current.namespace_();
  update.mutable_namespace_()->mutable_servers()->DeleteSubrange(0, 1);
  update.set_expected_revision(current.revision());
  {
    grpc::ClientContext context;
    v1::NamespaceResponse updated;
    ASSERT_TRUE(stub_->UpdateNamespace(&context, update, &updated).ok());
  }
  EXPECT_EQ(db_->Query("SELECT count(*) FROM tool_overrides")[0][0], "0");
  EXPECT_EQ(db_->Query("SELECT count(*) FROM audit_log WHERE kind = 'TOOL_OVERRIDE' AND "
                       "action = 'update' AND after IS NULL")[0][0],
            "1");
}

}  // namespace
}  // namespace switchboard::registry
