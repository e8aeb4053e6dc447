#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <thread>

#include "services/registry/src/embedded_migrations.h"
#include "services/registry/src/pg_config_store.h"
#include "services/registry/src/registry_grpc.h"
#include "services/registry/src/registry_service.h"
#include "services/registry/src/test_database.h"
#include "switchboard/common/crypto.h"
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

// Runs `argv` with extra environment, returning the exit code and what it wrote on stderr.
// Sends SIGTERM once `ready` (polled) holds, when given.
struct ProcessResult {
  int exit_code = -1;
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

  int pipe_fds[2];
  if (pipe(pipe_fds) != 0) return {};
  pid_t pid = fork();
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a test run that died
    dup2(pipe_fds[1], STDERR_FILENO);
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    execve(binary.c_str(), argv, envp.data());
    _exit(127);
  }
  close(pipe_fds[1]);
  std::string text;
  std::thread drain([&] {
    char buf[4096];
    ssize_t n;
    while ((n = read(pipe_fds[0], buf, sizeof(buf))) > 0) text.append(buf, static_cast<size_t>(n));
  });
  if (ready) {
    bool up = WaitUntil(ready, 15s);
    EXPECT_TRUE(up) << "sb-registry did not start serving";
    kill(pid, SIGTERM);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  drain.join();
  close(pipe_fds[0]);
  ProcessResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.stderr_text = text;
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
  // One line of explanation, after any structured log lines.
  EXPECT_EQ(std::count(result.stderr_text.begin(), result.stderr_text.end(), '\n'), 1)
      << result.stderr_text;
}

TEST(SbRegistryBinaryTest, MigratesServesAndStopsCleanlyOnSigterm) {
  auto db = TestDatabase::Create();
  ASSERT_TRUE(db.ok()) << db.status();
  std::string listen = "127.0.0.1:" + std::to_string(FreePort());
  ProcessResult result =
      RunBinary({"SWITCHBOARD_REGISTRY_POSTGRES_URL=" + (*db)->url(),
                 "SWITCHBOARD_REGISTRY_LISTEN=" + listen},
                [&] {
                  // A fresh channel each time: no reconnect backoff carried over from refused
                  // attempts.
                  auto stub = v1::Registry::NewStub(grpcutil::MakeChannel(listen));
                  grpc::ClientContext context;
                  context.set_deadline(std::chrono::system_clock::now() + 500ms);
                  v1::ListServersResponse response;
                  return stub->ListServers(&context, v1::ListRequest(), &response).ok();
                });
  EXPECT_EQ(result.exit_code, 0) << result.stderr_text;
  EXPECT_NE(result.stderr_text.find("\"msg\":\"migration applied\""), std::string::npos);
  EXPECT_NE(result.stderr_text.find("\"msg\":\"stopped\""), std::string::npos)
      << result.stderr_text;
  EXPECT_EQ((*db)->Query("SELECT count(*) FROM schema_migrations")[0][0],
            std::to_string(EmbeddedMigrationFiles().size()));
}

}  // namespace
}  // namespace switchboard::registry
