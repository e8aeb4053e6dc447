#include "switchboard/wire/connection.h"

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <future>
#include <thread>

#include "switchboard/router/v1/router.pb.h"

namespace switchboard::wire {
namespace {

namespace asio = boost::asio;
using router::v1::RouterRequest;

// One io_context run by its own thread.
class IoThread {
 public:
  IoThread() : work_(asio::make_work_guard(io_)), thread_([this] { io_.run(); }) {}
  ~IoThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  asio::any_io_executor executor() { return io_.get_executor(); }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

// A listener whose connections echo every frame back, and remember how they ended.
class EchoServer {
 public:
  explicit EchoServer(Limits limits = {}) {
    auto listener = Listener::Start(
        {io_.executor()}, "127.0.0.1:0", "test.v1",
        [this](std::shared_ptr<Connection> c) {
          std::weak_ptr<Connection> weak = c;
          c->Start(
              [weak](std::string_view frame) {
                if (auto self = weak.lock()) self->Send(frame);
              },
              [this](absl::Status status) { ended_.set_value(std::move(status)); });
        },
        limits);
    EXPECT_TRUE(listener.ok()) << listener.status();
    listener_ = std::move(*listener);
  }
  uint16_t port() const { return listener_->port(); }
  absl::Status Ended() {
    auto f = ended_.get_future();
    if (f.wait_for(std::chrono::seconds(5)) != std::future_status::ready) {
      return absl::DeadlineExceededError("the server's connection did not end");
    }
    return f.get();
  }

 private:
  IoThread io_;
  std::promise<absl::Status> ended_;
  std::unique_ptr<Listener> listener_;
};

// Collects what one client connection receives.
struct Received {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<RouterRequest> frames;
  std::optional<absl::Status> closed;

  Connection::OnFrame OnFrame() {
    return [this](std::string_view frame) {
      RouterRequest r;
      EXPECT_TRUE(r.ParseFromArray(frame.data(), static_cast<int>(frame.size())));
      std::lock_guard<std::mutex> lock(mu);
      frames.push_back(std::move(r));
      cv.notify_all();
    };
  }
  Connection::OnClosed OnClosed() {
    return [this](absl::Status status) {
      std::lock_guard<std::mutex> lock(mu);
      closed = std::move(status);
      cv.notify_all();
    };
  }
  bool WaitFrames(size_t n) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(10), [&] { return frames.size() >= n; });
  }
  std::optional<absl::Status> WaitClosed() {
    std::unique_lock<std::mutex> lock(mu);
    cv.wait_for(lock, std::chrono::seconds(5), [&] { return closed.has_value(); });
    return closed;
  }
};

// A started client connection on its own io thread, and what it receives. (The thread stops
// before `received` goes.)
struct Client {
  Client(uint16_t port, const std::string& protocol, Limits limits = {})
      : connection(Connection::Connect(io.executor(), "127.0.0.1:" + std::to_string(port),
                                       protocol, 2000, limits)) {
    connection->Start(received.OnFrame(), received.OnClosed());
  }
  Received received;
  IoThread io;
  std::shared_ptr<Connection> connection;
};

TEST(WireTest, FramesGoBothWaysInOrderWhateverTheirSize) {
  EchoServer server;
  Client c(server.port(), "test.v1");
  std::shared_ptr<Connection>& client = c.connection;
  Received& received = c.received;
  // Sent from this thread, not the connection's: many small frames, one over several read
  // chunks, and empty ones.
  constexpr int kFrames = 2000;
  for (int i = 0; i < kFrames; ++i) {
    RouterRequest r;
    r.set_call_id(static_cast<uint64_t>(i) + 1);
    if (i == 1000) r.set_message(std::string(3 << 20, 'x'));
    if (i % 7 != 0) r.set_endpoint("ep" + std::to_string(i));
    ASSERT_TRUE(client->Send(r));
  }
  ASSERT_TRUE(received.WaitFrames(kFrames));
  std::lock_guard<std::mutex> lock(received.mu);
  ASSERT_EQ(received.frames.size(), size_t{kFrames});
  for (int i = 0; i < kFrames; ++i) {
    const RouterRequest& r = received.frames[static_cast<size_t>(i)];
    EXPECT_EQ(r.call_id(), static_cast<uint64_t>(i) + 1);
    EXPECT_EQ(r.endpoint(), i % 7 != 0 ? "ep" + std::to_string(i) : "");
  }
  EXPECT_EQ(received.frames[1000].message().size(), size_t{3} << 20);
}

TEST(WireTest, APeerThatSpeaksAnotherProtocolIsRefused) {
  EchoServer server;
  Client c(server.port(), "other.v1");
  std::shared_ptr<Connection>& client = c.connection;
  Received& received = c.received;
  RouterRequest r;
  r.set_call_id(1);
  client->Send(r);
  absl::Status ended = server.Ended();
  EXPECT_EQ(ended.code(), absl::StatusCode::kInvalidArgument) << ended;
  EXPECT_NE(ended.message().find("does not speak test.v1"), std::string::npos) << ended;
  std::optional<absl::Status> closed = received.WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_FALSE(closed->ok());
  std::lock_guard<std::mutex> lock(received.mu);
  EXPECT_TRUE(received.frames.empty());  // nothing was echoed
}

TEST(WireTest, AnOversizeFrameClosesTheConnection) {
  Limits small;
  small.max_frame = 1024;
  EchoServer server(small);
  Client c(server.port(), "test.v1");
  RouterRequest r;
  r.set_message(std::string(2000, 'y'));
  ASSERT_TRUE(c.connection->Send(r));
  absl::Status ended = server.Ended();
  EXPECT_EQ(ended.code(), absl::StatusCode::kInvalidArgument) << ended;
  EXPECT_NE(ended.message().find("over the limit of 1024"), std::string::npos) << ended;
  // And a sender refuses a frame its own limit forbids, without closing.
  Limits tiny;
  tiny.max_frame = 16;
  EchoServer other;
  Client strict(other.port(), "test.v1", tiny);
  EXPECT_FALSE(strict.connection->Send(r));
  EXPECT_FALSE(strict.connection->closed());
}

TEST(WireTest, APeerThatStopsReadingClosesTheConnectionInsteadOfGrowingMemory) {
  IoThread server_io;
  std::shared_ptr<Connection> held;  // accepted and never started: it reads nothing
  std::promise<void> accepted;
  auto listener = Listener::Start({server_io.executor()}, "127.0.0.1:0", "test.v1",
                                  [&](std::shared_ptr<Connection> c) {
                                    held = std::move(c);
                                    accepted.set_value();
                                  });
  ASSERT_TRUE(listener.ok()) << listener.status();
  Limits limits;
  limits.max_pending = 64 * 1024;
  Client c((*listener)->port(), "test.v1", limits);
  std::shared_ptr<Connection>& client = c.connection;
  Received& received = c.received;
  accepted.get_future().wait();
  RouterRequest r;
  r.set_message(std::string(1024, 'z'));
  int sent = 0;
  while (sent < 1000000 && client->Send(r)) ++sent;
  EXPECT_LT(sent, 1000000);
  std::optional<absl::Status> closed = received.WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code(), absl::StatusCode::kResourceExhausted) << *closed;
  EXPECT_FALSE(client->Send(r));
  asio::post(server_io.executor(), [&held] { held.reset(); });
}

TEST(WireTest, CloseEndsBothSidesCleanly) {
  EchoServer server;
  Client c(server.port(), "test.v1");
  std::shared_ptr<Connection>& client = c.connection;
  Received& received = c.received;
  RouterRequest r;
  r.set_call_id(7);
  ASSERT_TRUE(client->Send(r));
  ASSERT_TRUE(received.WaitFrames(1));
  client->Close();
  std::optional<absl::Status> closed = received.WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_TRUE(closed->ok()) << *closed;
  EXPECT_TRUE(server.Ended().ok());
  EXPECT_FALSE(client->Send(r));
}

TEST(WireTest, FramesSentWhileConnectingGoOutOnceConnected) {
  EchoServer server;
  IoThread io;
  auto connection = Connection::Connect(io.executor(), "127.0.0.1:" + std::to_string(server.port()),
                                        "test.v1", 2000);
  RouterRequest r;
  for (uint64_t id = 1; id <= 3; ++id) {
    r.set_call_id(id);
    ASSERT_TRUE(connection->Send(r));  // before Start, likely before the connection is made
  }
  Received received;
  connection->Start(received.OnFrame(), received.OnClosed());
  ASSERT_TRUE(received.WaitFrames(3));
  std::lock_guard<std::mutex> lock(received.mu);
  for (uint64_t id = 1; id <= 3; ++id) EXPECT_EQ(received.frames[id - 1].call_id(), id);
  connection->Close();
}

TEST(WireTest, AConnectionThatCannotBeMadeEndsWithTheAddress) {
  IoThread io;
  uint16_t port;
  {
    // A port that was just free.
    asio::io_context scratch;
    asio::ip::tcp::acceptor a(scratch, {asio::ip::make_address("127.0.0.1"), 0});
    port = a.local_endpoint().port();
  }
  Received refused;
  auto connection =
      Connection::Connect(io.executor(), "127.0.0.1:" + std::to_string(port), "test.v1", 2000);
  connection->Start(refused.OnFrame(), refused.OnClosed());
  std::optional<absl::Status> closed = refused.WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code(), absl::StatusCode::kUnavailable);
  EXPECT_NE(closed->message().find(std::to_string(port)), std::string::npos) << *closed;
  RouterRequest r;
  EXPECT_FALSE(connection->Send(r));

  // Ended before Start: OnClosed comes once Start gives it.
  Received bad;
  auto no_port = Connection::Connect(io.executor(), "no-port", "test.v1", 2000);
  for (int i = 0; i < 500 && !no_port->closed(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  no_port->Start(bad.OnFrame(), bad.OnClosed());
  closed = bad.WaitClosed();
  ASSERT_TRUE(closed.has_value());
  EXPECT_EQ(closed->code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace switchboard::wire
