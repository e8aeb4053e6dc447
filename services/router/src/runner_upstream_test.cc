// WireRunnerUpstreamFactory against a fake runner speaking wire::kRunnerAttach on loopback.

#include <gtest/gtest.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>

#include "services/router/src/runner_upstream.h"
#include "switchboard/wire/connection.h"
#include "switchboard/wire/protocols.h"

namespace switchboard::router {
namespace {

namespace asio = boost::asio;
using runner::v1::AttachRequest;
using runner::v1::AttachResponse;

class IoThread {
 public:
  IoThread() : thread_([this] { io_.run(); }) {}
  ~IoThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  asio::any_io_executor executor() { return io_.get_executor(); }
  // Runs `fn` on the thread and waits for it.
  void Run(std::function<void()> fn) {
    std::promise<void> done;
    asio::post(io_, [&] {
      fn();
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread thread_;
};

// A runner that opens any server but "nobody" (Closed NOT_FOUND), answers each message m
// with "re:m", and records the frames it reads.
class FakeRunner {
 public:
  FakeRunner() {
    auto listener = wire::Listener::Start(
        {io_.executor()}, "127.0.0.1:0", wire::kRunnerAttach,
        [this](std::shared_ptr<wire::Connection> c) {
          std::weak_ptr<wire::Connection> weak = c;
          c->Start(
              [this, weak](std::string_view frame) {
                auto self = weak.lock();
                AttachRequest r;
                if (!self || !r.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) return;
                Record(r);
                AttachResponse answer;
                if (r.has_open() && r.open().server() == "nobody") {
                  answer.mutable_closed()->set_code(5);
                  answer.mutable_closed()->set_message("unknown MCP server 'nobody'");
                } else if (r.has_open()) {
                  answer.mutable_opened()->set_pid(42);
                } else {
                  answer.set_message("re:" + r.message());
                }
                self->Send(answer);
              },
              [](absl::Status) {});
        });
    EXPECT_TRUE(listener.ok()) << listener.status();
    listener_ = std::move(*listener);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(listener_->port()); }

  void Record(const AttachRequest& r) {
    std::lock_guard<std::mutex> lock(mu);
    frames.push_back(r);
    cv.notify_all();
  }

  std::mutex mu;
  std::condition_variable cv;
  std::vector<AttachRequest> frames;

 private:
  IoThread io_;
  std::unique_ptr<wire::Listener> listener_;
};

// What the router is told by one upstream.
struct Events {
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> messages;
  std::vector<std::string> closed;

  UpstreamEvents Make() {
    UpstreamEvents e;
    e.on_message = [this](std::string m) {
      std::lock_guard<std::mutex> lock(mu);
      messages.push_back(std::move(m));
      cv.notify_all();
    };
    e.on_closed = [this](std::string reason) {
      std::lock_guard<std::mutex> lock(mu);
      closed.push_back(std::move(reason));
      cv.notify_all();
    };
    return e;
  }
  bool Wait(const std::function<bool()>& done) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(5), done);
  }
};

registry::v1::Server ServerNamed(const std::string& name) {
  registry::v1::Server s;
  s.set_name(name);
  s.set_type("STDIO");
  return s;
}

TEST(WireRunnerUpstreamTest, HoldsMessagesUntilOpenedThenCarriesThemBothWays) {
  FakeRunner runner;
  IoThread router;
  WireRunnerUpstreamFactory factory(runner.address(), router.executor());
  Events events;
  std::shared_ptr<Upstream> upstream;
  router.Run([&] {
    upstream = factory.Connect(ServerNamed("echo"), events.Make());
    upstream->Send("first");  // before the connection exists
  });
  ASSERT_TRUE(events.Wait([&] { return events.messages.size() == 1; }));
  router.Run([&] { upstream->SendFor("second", "ada@example.com", "s-1"); });
  ASSERT_TRUE(events.Wait([&] { return events.messages.size() == 2; }));
  EXPECT_EQ(events.messages[0], "re:first");
  {
    std::lock_guard<std::mutex> lock(runner.mu);
    ASSERT_EQ(runner.frames.size(), 3u);
    EXPECT_EQ(runner.frames[0].open().server(), "echo");
    EXPECT_EQ(runner.frames[1].message(), "first");
    EXPECT_EQ(runner.frames[2].routed().message(), "second");
    EXPECT_EQ(runner.frames[2].routed().user(), "ada@example.com");
    EXPECT_EQ(runner.frames[2].routed().session(), "s-1");
  }
  // Closed by the router: it is not told, and nothing is left open.
  router.Run([&] { upstream->Close(); });
  factory.CloseAll(2000);
  std::lock_guard<std::mutex> lock(events.mu);
  EXPECT_TRUE(events.closed.empty());
}

TEST(WireRunnerUpstreamTest, TheRunnersRefusalAndAnUnreachableRunnerCloseTheUpstream) {
  FakeRunner runner;
  IoThread router;
  WireRunnerUpstreamFactory factory(runner.address(), router.executor());
  Events refused;
  std::shared_ptr<Upstream> upstream;
  router.Run([&] { upstream = factory.Connect(ServerNamed("nobody"), refused.Make()); });
  ASSERT_TRUE(refused.Wait([&] { return !refused.closed.empty(); }));
  EXPECT_EQ(refused.closed[0], "unknown MCP server 'nobody'");
  router.Run([&] { upstream->Send("dropped"); });  // after the end: dropped, no crash

  WireRunnerUpstreamFactory nowhere("127.0.0.1:1", router.executor());
  Events unreachable;
  std::shared_ptr<Upstream> lost;
  router.Run([&] { lost = nowhere.Connect(ServerNamed("echo"), unreachable.Make()); });
  ASSERT_TRUE(unreachable.Wait([&] { return !unreachable.closed.empty(); }));
  EXPECT_NE(unreachable.closed[0].find("127.0.0.1:1"), std::string::npos) << unreachable.closed[0];
  std::lock_guard<std::mutex> lock(refused.mu);
  EXPECT_EQ(refused.closed.size(), 1u);  // told once
}

}  // namespace
}  // namespace switchboard::router
