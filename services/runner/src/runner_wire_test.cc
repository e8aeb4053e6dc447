// Attach over wire connections against the real RunnerService and echo server.

#include "services/runner/src/runner_wire.h"

#include <gtest/gtest.h>
#include <signal.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <future>
#include <mutex>
#include <optional>
#include <thread>

#include "switchboard/runner/v1/runner.pb.h"
#include "switchboard/wire/protocols.h"

namespace switchboard::runner {
namespace {

namespace asio = boost::asio;
using v1::AttachRequest;
using v1::AttachResponse;

// A router's end of one attachment, read on its own io thread.
class Client {
 public:
  explicit Client(uint16_t port)
      : thread_([this] { io_.run(); }),
        connection_(wire::Connection::Connect(io_.get_executor(),
                                              "127.0.0.1:" + std::to_string(port),
                                              wire::kRunnerAttach, 2000)) {
    connection_->Start(
        [this](std::string_view frame) {
          AttachResponse r;
          EXPECT_TRUE(r.ParseFromArray(frame.data(), static_cast<int>(frame.size())));
          std::lock_guard<std::mutex> lock(mu_);
          frames_.push_back(std::move(r));
          cv_.notify_all();
        },
        [this](absl::Status) {
          std::lock_guard<std::mutex> lock(mu_);
          ended_ = true;
          cv_.notify_all();
        });
  }
  ~Client() {
    connection_->Close();
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_for(lock, std::chrono::seconds(5), [this] { return ended_; });
    }
    work_.reset();
    io_.stop();
    thread_.join();
  }

  void Send(const AttachRequest& r) { ASSERT_TRUE(connection_->Send(r)); }
  void Close() { connection_->Close(); }

  // The next frame; nullopt after 10 s without one.
  std::optional<AttachResponse> Next() {
    std::unique_lock<std::mutex> lock(mu_);
    if (!cv_.wait_for(lock, std::chrono::seconds(10), [this] { return !frames_.empty(); })) {
      return std::nullopt;
    }
    AttachResponse r = std::move(frames_.front());
    frames_.pop_front();
    return r;
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
  std::shared_ptr<wire::Connection> connection_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<AttachResponse> frames_;
  bool ended_ = false;
};

AttachRequest OpenFrame(const std::string& server) {
  AttachRequest r;
  r.mutable_open()->set_server(server);
  return r;
}

AttachRequest MessageFrame(const std::string& message) {
  AttachRequest r;
  r.set_message(message);
  return r;
}

constexpr char kEchoCall[] =
    R"({"jsonrpc":"2.0","id":"a-1","method":"tools/call","params":{"name":"echo",)"
    R"("arguments":{"message":"over wire"}}})";

class RunnerWireTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_.Put({"echo", "STDIO", SB_MCP_ECHO_PATH, {}, {}});
    auto listener = ServeAttach(&service_, "127.0.0.1:0");
    ASSERT_TRUE(listener.ok()) << listener.status();
    listener_ = std::move(*listener);
  }
  void TearDown() override {
    listener_->Stop();
    service_.Shutdown();
  }

  StaticServerCatalog catalog_;
  ForkExecLauncher launcher_;
  RunnerService service_{RunnerOptions{}, &catalog_, &launcher_};
  std::unique_ptr<wire::Listener> listener_;
};

TEST_F(RunnerWireTest, AttachOpensAndCarriesMessagesBothWays) {
  Client client(listener_->port());
  // Sent before Opened: held by the runner until the server is ready.
  client.Send(OpenFrame("echo"));
  client.Send(MessageFrame(kEchoCall));
  std::optional<AttachResponse> opened = client.Next();
  ASSERT_TRUE(opened && opened->has_opened());
  EXPECT_GT(opened->opened().pid(), 0);
  EXPECT_NE(opened->opened().initialize_result().find(R"("name":"sb-mcp-echo")"),
            std::string::npos);
  std::optional<AttachResponse> answer = client.Next();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->message(),
            R"({"jsonrpc":"2.0","id":"a-1","result":{"content":[{"type":"text",)"
            R"("text":"Echo: over wire"}]}})");
  // The router leaving detaches: the runner lists no attachment to echo any more.
  client.Close();
  bool detached = false;
  for (int i = 0; i < 100 && !detached; ++i) {
    detached = true;
    for (const ProcessStatus& p : service_.ListProcesses()) {
      if (p.server == "echo" && p.attachments != 0) detached = false;
    }
    if (!detached) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(detached);
}

TEST_F(RunnerWireTest, UnknownServerAndBadFirstFramesEndWithClosed) {
  Client unknown(listener_->port());
  unknown.Send(OpenFrame("nobody"));
  std::optional<AttachResponse> closed = unknown.Next();
  ASSERT_TRUE(closed && closed->has_closed());
  EXPECT_EQ(closed->closed().code(), static_cast<int>(absl::StatusCode::kNotFound));
  EXPECT_EQ(closed->closed().message(), "unknown MCP server 'nobody'");

  Client unopened(listener_->port());
  unopened.Send(MessageFrame(R"({"jsonrpc":"2.0","id":1,"method":"ping"})"));
  closed = unopened.Next();
  ASSERT_TRUE(closed && closed->has_closed());
  EXPECT_EQ(closed->closed().code(), static_cast<int>(absl::StatusCode::kInvalidArgument));
}

TEST_F(RunnerWireTest, ShutdownEndsAttachmentsWithUnavailableAndStopsTheChild) {
  Client client(listener_->port());
  client.Send(OpenFrame("echo"));
  std::optional<AttachResponse> opened = client.Next();
  ASSERT_TRUE(opened && opened->has_opened());
  pid_t pid = static_cast<pid_t>(opened->opened().pid());
  listener_->Stop();
  service_.Shutdown();
  std::optional<AttachResponse> closed = client.Next();
  ASSERT_TRUE(closed && closed->has_closed());
  EXPECT_EQ(closed->closed().code(), static_cast<int>(absl::StatusCode::kUnavailable));
  EXPECT_EQ(::kill(pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

}  // namespace
}  // namespace switchboard::runner
