#include "services/runner/src/runner_grpc.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <thread>

#include "services/runner/src/config_cache_catalog.h"
#include "switchboard/common/strings.h"
#include "switchboard/configwatch/config_cache.h"
#include "switchboard/grpcutil/server.h"
#include "switchboard/registry/v1/registry.grpc.pb.h"

namespace switchboard::runner {
namespace {

using runner::v1::AttachRequest;
using runner::v1::AttachResponse;

// Serves `service` on an ephemeral loopback port; sets `port` (0 when it could not listen).
std::unique_ptr<grpc::Server> Serve(grpc::Service* service, int* port) {
  grpc::ServerBuilder builder;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), port);
  builder.RegisterService(service);
  return builder.BuildAndStart();
}

std::unique_ptr<runner::v1::Runner::Stub> RunnerStub(int port) {
  return runner::v1::Runner::NewStub(
      grpc::CreateChannel(StrCat("127.0.0.1:", port), grpc::InsecureChannelCredentials()));
}

// The real adapter and logic in-process on an ephemeral loopback port, with a table catalog.
class RunnerGrpcTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_.Put({"echo", "STDIO", SB_MCP_ECHO_PATH, {}, {}});
    int port = 0;
    server_ = Serve(&grpc_service_, &port);
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    stub_ = RunnerStub(port);
  }

  void TearDown() override {
    service_.Shutdown();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(5));
  }

  std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    return context;
  }

  static AttachRequest OpenFrame(const std::string& server) {
    AttachRequest r;
    r.mutable_open()->set_server(server);
    return r;
  }

  static AttachRequest MessageFrame(const std::string& message) {
    AttachRequest r;
    r.set_message(message);
    return r;
  }

  // Opens `stream` on the echo server; `response` holds the Opened frame. Fatal on failure:
  // call it under ASSERT_NO_FATAL_FAILURE.
  static void OpenEcho(grpc::ClientReaderWriterInterface<AttachRequest, AttachResponse>* stream,
                       AttachResponse* response) {
    ASSERT_TRUE(stream->Write(OpenFrame("echo")));
    ASSERT_TRUE(stream->Read(response));
    ASSERT_TRUE(response->has_opened());
  }

  StaticServerCatalog catalog_;
  ForkExecLauncher launcher_;
  RunnerService service_{RunnerOptions{}, &catalog_, &launcher_};
  RunnerGrpc grpc_service_{&service_};
  std::unique_ptr<grpc::Server> server_;
  std::unique_ptr<runner::v1::Runner::Stub> stub_;
};

TEST_F(RunnerGrpcTest, AttachOpensAndCarriesMessagesBothWays) {
  auto context = Context();
  auto stream = stub_->Attach(context.get());
  AttachResponse response;
  ASSERT_NO_FATAL_FAILURE(OpenEcho(stream.get(), &response));
  EXPECT_GT(response.opened().pid(), 0);
  EXPECT_NE(response.opened().initialize_result().find(R"("name":"sb-mcp-echo")"),
            std::string::npos);

  ASSERT_TRUE(stream->Write(
      MessageFrame(R"({"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"echo",)"
                   R"("arguments":{"message":"over gRPC"}}})")));
  ASSERT_TRUE(stream->Read(&response));
  EXPECT_EQ(response.message(),
            R"({"jsonrpc":"2.0","id":"a-1","result":{"content":[{"type":"text",)"
            R"("text":"Echo: over gRPC"}]}})");

  ASSERT_TRUE(stream->WritesDone());
  grpc::Status status = stream->Finish();
  EXPECT_TRUE(status.ok()) << status.error_message();
}

TEST_F(RunnerGrpcTest, AdminCallsListRestartAndReadLogs) {
  auto context = Context();
  auto stream = stub_->Attach(context.get());
  AttachResponse response;
  ASSERT_NO_FATAL_FAILURE(OpenEcho(stream.get(), &response));

  runner::v1::ListProcessesResponse list;
  grpc::Status status = stub_->ListProcesses(Context().get(), {}, &list);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(list.processes_size(), 1);
  EXPECT_EQ(list.processes(0).server(), "echo");
  EXPECT_EQ(list.processes(0).pid(), response.opened().pid());
  EXPECT_EQ(list.processes(0).state(), "ready");
  EXPECT_EQ(list.processes(0).attachments(), 1);

  runner::v1::ServerLogsRequest logs_request;
  logs_request.set_server("echo");
  runner::v1::ServerLogsResponse logs;
  EXPECT_TRUE(stub_->ServerLogs(Context().get(), logs_request, &logs).ok());

  runner::v1::RestartServerRequest restart;
  restart.set_server("echo");
  runner::v1::RestartServerResponse restarted;
  EXPECT_TRUE(stub_->RestartServer(Context().get(), restart, &restarted).ok());
  restart.set_server("nobody");
  status = stub_->RestartServer(Context().get(), restart, &restarted);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_NE(status.error_message().find("nobody"), std::string::npos);

  ASSERT_TRUE(stream->WritesDone());
  stream->Finish();
}

TEST_F(RunnerGrpcTest, RoutedFramesChooseAPerUserProcessAndDrainStopsIt) {
  PoolSettings pool;
  pool.isolation = "per-user";
  catalog_.Put(ServerSpec{"mine", "STDIO", SB_MCP_ECHO_PATH, {}, {}, pool});
  auto context = Context();
  auto stream = stub_->Attach(context.get());
  AttachRequest open = OpenFrame("mine");
  open.mutable_open()->set_user("alice@x.test");
  ASSERT_TRUE(stream->Write(open));
  AttachResponse response;
  ASSERT_TRUE(stream->Read(&response));
  ASSERT_TRUE(response.has_opened());

  // Bob's call, on the same stream, runs in a process of bob's; it notifies bob alone.
  AttachRequest routed;
  routed.mutable_routed()->set_message(
      R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"notify",)"
      R"("arguments":{"message":"hi bob"}}})");
  routed.mutable_routed()->set_user("bob@x.test");
  routed.mutable_routed()->set_session("sess-b");
  ASSERT_TRUE(stream->Write(routed));
  bool notified = false, answered = false;
  for (int i = 0; i < 2 && stream->Read(&response); ++i) {
    if (response.has_routed()) {
      notified = true;
      EXPECT_EQ(response.routed().user(), "bob@x.test");
      EXPECT_NE(response.routed().message().find("hi bob"), std::string::npos);
    } else if (response.has_message()) {
      answered = response.message().find(R"("id":7)") != std::string::npos;
    }
  }
  EXPECT_TRUE(notified);
  EXPECT_TRUE(answered);

  runner::v1::ListProcessesResponse list;
  ASSERT_TRUE(stub_->ListProcesses(Context().get(), {}, &list).ok());
  int64_t bob_pid = 0;
  for (const auto& p : list.processes()) {
    if (p.server() == "mine" && p.key() == "bob@x.test") {
      bob_pid = p.pid();
      EXPECT_EQ(p.isolation(), "per-user");
      ASSERT_EQ(p.sessions_size(), 1);
      EXPECT_EQ(p.sessions(0), "sess-b");
      EXPECT_EQ(p.queue_depth(), 0);
    }
  }
  EXPECT_GT(bob_pid, 0);

  runner::v1::DrainServerRequest drain;
  drain.set_server("mine");
  runner::v1::DrainServerResponse drained;
  grpc::Status status = stub_->DrainServer(Context().get(), drain, &drained);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_GE(drained.processes(), 1);
  bool gone = false;
  for (int i = 0; i < 500 && !gone; ++i) {
    gone = ::kill(static_cast<pid_t>(bob_pid), 0) == -1 && errno == ESRCH;
    if (!gone) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(gone);
  drain.set_server("nobody");
  EXPECT_EQ(stub_->DrainServer(Context().get(), drain, &drained).error_code(),
            grpc::StatusCode::NOT_FOUND);

  ASSERT_TRUE(stream->WritesDone());
  stream->Finish();
}

TEST_F(RunnerGrpcTest, EveryAdminCallPassesTheAdminCheck) {
  int checked = 0;
  RunnerGrpc guarded(&service_, [&checked](grpc::CallbackServerContext*) {
    ++checked;
    return grpc::Status(grpc::StatusCode::PERMISSION_DENIED, "not an admin");
  });
  int port = 0;
  std::unique_ptr<grpc::Server> server = Serve(&guarded, &port);
  ASSERT_GT(port, 0);
  auto stub = RunnerStub(port);

  runner::v1::ListProcessesResponse list;
  EXPECT_EQ(stub->ListProcesses(Context().get(), {}, &list).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  runner::v1::RestartServerRequest restart;
  restart.set_server("echo");
  runner::v1::RestartServerResponse restarted;
  EXPECT_EQ(stub->RestartServer(Context().get(), restart, &restarted).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  runner::v1::DrainServerRequest drain;
  drain.set_server("echo");
  runner::v1::DrainServerResponse drained;
  EXPECT_EQ(stub->DrainServer(Context().get(), drain, &drained).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  runner::v1::ServerLogsRequest logs_request;
  logs_request.set_server("echo");
  runner::v1::ServerLogsResponse logs;
  EXPECT_EQ(stub->ServerLogs(Context().get(), logs_request, &logs).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(checked, 4);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

TEST_F(RunnerGrpcTest, UnknownServerEndsTheStreamWithNotFound) {
  auto context = Context();
  auto stream = stub_->Attach(context.get());
  ASSERT_TRUE(stream->Write(OpenFrame("nobody")));
  AttachResponse response;
  EXPECT_FALSE(stream->Read(&response));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(status.error_message(), "unknown MCP server 'nobody'");
}

TEST_F(RunnerGrpcTest, FirstFrameMustBeOpen) {
  auto context = Context();
  auto stream = stub_->Attach(context.get());
  ASSERT_TRUE(stream->Write(MessageFrame(R"({"jsonrpc":"2.0","id":1,"method":"ping"})")));
  AttachResponse response;
  EXPECT_FALSE(stream->Read(&response));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(RunnerGrpcTest, ShutdownEndsOpenStreamsWithUnavailableAndStopsTheChild) {
  auto context = Context();
  auto stream = stub_->Attach(context.get());
  AttachResponse response;
  ASSERT_NO_FATAL_FAILURE(OpenEcho(stream.get(), &response));
  pid_t pid = static_cast<pid_t>(response.opened().pid());

  service_.Shutdown();
  EXPECT_FALSE(stream->Read(&response));
  grpc::Status status = stream->Finish();
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

// A registry whose Watch sends one snapshot and then stays open.
class FakeRegistry final : public registry::v1::Registry::Service {
 public:
  explicit FakeRegistry(registry::v1::Snapshot snapshot) : snapshot_(std::move(snapshot)) {}

  grpc::Status Watch(grpc::ServerContext* context, const registry::v1::WatchRequest* /*request*/,
                     grpc::ServerWriter<registry::v1::WatchEvent>* writer) override {
    registry::v1::WatchEvent event;
    event.set_revision(snapshot_.revision());
    *event.mutable_snapshot() = snapshot_;
    writer->Write(event);
    while (!context->IsCancelled()) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    return grpc::Status::OK;
  }

 private:
  registry::v1::Snapshot snapshot_;
};

TEST(ConfigCacheCatalogTest, ServesServersFromTheRegistryWatch) {
  registry::v1::Snapshot snapshot;
  snapshot.set_revision(3);
  registry::v1::Server* echo = snapshot.add_servers();
  echo->set_name("echo");
  echo->set_type("STDIO");
  echo->set_command(SB_MCP_ECHO_PATH);
  echo->add_args("--flag");
  (*echo->mutable_env())["TOKEN"] = "secret";
  echo->set_isolation("per-session");
  echo->set_min_processes(1);
  echo->set_max_processes(4);
  echo->set_max_in_flight_per_process(2);
  echo->set_queue_size(50);
  echo->set_queue_timeout_ms(700);
  echo->set_idle_timeout_ms(800);
  echo->set_request_timeout_ms(900);
  echo->set_cwd("/tmp");
  echo->set_limit_address_space_mb(3);
  echo->set_limit_cpu_seconds(5);
  echo->set_limit_open_files(64);
  echo->set_limit_processes(7);
  FakeRegistry registry(snapshot);
  int port = 0;
  std::unique_ptr<grpc::Server> server = Serve(&registry, &port);
  ASSERT_GT(port, 0);

  configwatch::ConfigCache cache(grpcutil::MakeChannel(StrCat("127.0.0.1:", port)), "runner-test");
  ConfigCacheCatalog catalog(&cache);
  EXPECT_EQ(catalog.Find("echo").status().code(), absl::StatusCode::kUnavailable);
  cache.Start();
  ASSERT_TRUE(cache.WaitSynced(10000));
  absl::StatusOr<ServerSpec> spec = catalog.Find("echo");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "echo");
  EXPECT_EQ(spec->type, "STDIO");
  EXPECT_EQ(spec->command, SB_MCP_ECHO_PATH);
  EXPECT_EQ(spec->args, std::vector<std::string>{"--flag"});
  EXPECT_EQ(spec->env, (std::map<std::string, std::string>{{"TOKEN", "secret"}}));
  const PoolSettings& pool = spec->pool;
  EXPECT_EQ(pool.isolation, "per-session");
  EXPECT_EQ(pool.min_processes, 1);
  EXPECT_EQ(pool.max_processes, 4);
  EXPECT_EQ(pool.max_in_flight, 2);
  EXPECT_EQ(pool.queue_size, 50);
  EXPECT_EQ(pool.queue_timeout_ms, 700);
  EXPECT_EQ(pool.idle_timeout_ms, 800);
  EXPECT_EQ(pool.request_timeout_ms, 900);
  EXPECT_EQ(pool.cwd, "/tmp");
  EXPECT_EQ(pool.limits.address_space_bytes, uint64_t{3} << 20);
  EXPECT_EQ(pool.limits.cpu_seconds, 5u);
  EXPECT_EQ(pool.limits.open_files, 64u);
  EXPECT_EQ(pool.limits.processes, 7u);
  std::vector<ServerSpec> listed = catalog.List();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name, "echo");
  EXPECT_EQ(listed[0].pool.max_in_flight, 2);
  EXPECT_EQ(catalog.Find("nobody").status().code(), absl::StatusCode::kNotFound);
  cache.Stop();
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
}

}  // namespace
}  // namespace switchboard::runner
