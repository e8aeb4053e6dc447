// The router clients (gRPC and wire) and the auth client against in-process fake router and
// auth servers on 127.0.0.1.

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include "services/edge/src/grpc_auth_client.h"
#include "services/edge/src/grpc_router_client.h"
#include "services/edge/src/wire_router_client.h"
#include "switchboard/grpcutil/server.h"
#include "switchboard/wire/connection.h"
#include "switchboard/wire/protocols.h"

namespace switchboard::edge {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
using auth::v1::AuthorizeRequest;
using auth::v1::AuthorizeResponse;
using router::v1::RouterRequest;
using router::v1::RouterResponse;

// A router that answers each request on its stream: "hang" gets nothing, "notify:x" gets a
// notification and then "reply:x", "session:x" first sends x for the request's session under
// call_id 0, "break" ends the stream with UNAVAILABLE, anything else gets "reply:<message>".
// It serves both transports: gRPC Exchange streams, and wire connections (ServeWire).
class FakeRouterService : public router::v1::Router::Service {
 public:
  grpc::Status Exchange(grpc::ServerContext*,
                        grpc::ServerReaderWriter<RouterResponse, RouterRequest>* stream) override {
    ++streams;
    RouterRequest request;
    while (stream->Read(&request)) {
      std::vector<RouterResponse> answers;
      if (!Answer(request, &answers)) {
        return grpc::Status(grpc::StatusCode::UNAVAILABLE, "going away");
      }
      for (const RouterResponse& a : answers) stream->Write(a);
    }
    return grpc::Status::OK;
  }

  // Serves wire connections on `executor`; the listener's address is "127.0.0.1:<port>".
  std::unique_ptr<wire::Listener> ServeWire(asio::any_io_executor executor) {
    auto listener = wire::Listener::Start(
        {std::move(executor)}, "127.0.0.1:0", wire::kRouterExchange,
        [this](std::shared_ptr<wire::Connection> connection) {
          ++streams;
          std::weak_ptr<wire::Connection> weak = connection;
          connection->Start(
              [this, weak](std::string_view frame) {
                auto c = weak.lock();
                RouterRequest request;
                if (c == nullptr || !request.ParseFromArray(frame.data(), int(frame.size()))) return;
                std::vector<RouterResponse> answers;
                if (!Answer(request, &answers)) {
                  c->Close();
                  return;
                }
                for (const RouterResponse& a : answers) c->Send(a);
              },
              [](absl::Status) {});
        });
    EXPECT_TRUE(listener.ok()) << listener.status();
    return listener.ok() ? std::move(*listener) : nullptr;
  }

  // Records `request` and puts its answers in `out`; false when the stream must break.
  bool Answer(const RouterRequest& request, std::vector<RouterResponse>* out) {
    {
      std::lock_guard<std::mutex> lock(mu);
      requests.push_back(request);
    }
    cv.notify_all();
    if (request.cancel()) return true;
    const std::string& message = request.message();
    if (message == "hang") return true;
    if (message == "break") return false;
    if (message.rfind("session:", 0) == 0) {
      // A message for the session, not tied to the call (call_id 0), before the reply.
      RouterResponse& unsolicited = out->emplace_back();
      unsolicited.set_call_id(0);
      unsolicited.set_session_id(request.session_id());
      unsolicited.set_message(message.substr(8));
      RouterResponse& orphan = out->emplace_back();  // call_id 0 without a session: dropped
      orphan.set_call_id(0);
      orphan.set_message("orphan");
    }
    if (message.rfind("notify:", 0) == 0) {
      RouterResponse& note = out->emplace_back();
      note.set_call_id(request.call_id());
      note.set_message("note");
    }
    RouterResponse& reply = out->emplace_back();
    reply.set_call_id(request.call_id());
    reply.set_message("reply:" + message);
    reply.set_final(true);
    return true;
  }

  bool WaitFor(const std::function<bool(const std::vector<RouterRequest>&)>& predicate) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::seconds(5), [&] { return predicate(requests); });
  }

  std::atomic<int> streams{0};
  std::mutex mu;
  std::condition_variable cv;
  std::vector<RouterRequest> requests;
};

class FakeAuthService : public auth::v1::Auth::Service {
 public:
  grpc::Status Authorize(grpc::ServerContext*, const AuthorizeRequest* request,
                         AuthorizeResponse* response) override {
    {
      std::lock_guard<std::mutex> lock(mu);
      last = *request;
    }
    const std::string& key = request->credential();
    if (key == "slow") std::this_thread::sleep_for(std::chrono::milliseconds(600));
    if (key == "allow" || key == "slow") {
      response->set_decision(AuthorizeResponse::ALLOW);
      response->set_user_email("ada@example.com");
      response->set_api_key_id("k1");
      response->set_namespace_("ns");
      response->set_reuse_ms(1500);
      response->set_config_revision(42);
    } else if (key == "limited") {
      response->set_decision(AuthorizeResponse::RATE_LIMITED);
      response->set_retry_after_seconds(3);
      response->set_reason("slow down");
    } else if (key == "forbidden") {
      response->set_decision(AuthorizeResponse::FORBIDDEN);
    } else if (key == "nowhere") {
      response->set_decision(AuthorizeResponse::NOT_FOUND);
    } else if (key == "unspecified") {
      response->set_decision(AuthorizeResponse::DECISION_UNSPECIFIED);
    } else {
      response->set_decision(AuthorizeResponse::UNAUTHENTICATED);
    }
    return grpc::Status::OK;
  }

  std::mutex mu;
  AuthorizeRequest last;
};

class GrpcClientsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&router_service_);
    builder.RegisterService(&auth_service_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_NE(port_, 0);
    address_ = "127.0.0.1:" + std::to_string(port_);
    io_thread_ = std::thread([this] { io_.run(); });
    wire_thread_ = std::thread([this] { wire_io_.run(); });
    wire_listener_ = router_service_.ServeWire(wire_io_.get_executor());
    ASSERT_NE(wire_listener_, nullptr);
    wire_address_ = "127.0.0.1:" + std::to_string(wire_listener_->port());
  }

  void TearDown() override {
    wire_listener_.reset();
    wire_work_.reset();
    wire_io_.stop();
    wire_thread_.join();
    work_.reset();
    io_thread_.join();
    server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(1));
  }

  template <typename T>
  T Run(asio::awaitable<T> op) {
    return asio::co_spawn(io_, std::move(op), asio::use_future).get();
  }

  // Every frame of a call, up to and including the final one (or the error).
  static asio::awaitable<std::vector<absl::StatusOr<RouterFrame>>> AllFrames(RouterCall& call) {
    std::vector<absl::StatusOr<RouterFrame>> frames;
    while (true) {
      absl::StatusOr<RouterFrame> frame = co_await call.Next();
      bool last = !frame.ok() || frame->final;
      frames.push_back(std::move(frame));
      if (last) co_return frames;
    }
  }

  static RouterMessage Message(std::string text) {
    RouterMessage m;
    m.endpoint = "team";
    m.session_id = "s-1";
    m.protocol_version = "2025-06-18";
    m.message = std::move(text);
    m.user_email = "ada@example.com";
    m.api_key_id = "k1";
    return m;
  }

  FakeRouterService router_service_;
  FakeAuthService auth_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::string address_;
  asio::io_context io_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{io_.get_executor()};
  std::thread io_thread_;
  // The fake router's wire side runs on its own thread, as a router does.
  asio::io_context wire_io_;
  asio::executor_work_guard<asio::io_context::executor_type> wire_work_{wire_io_.get_executor()};
  std::thread wire_thread_;
  std::unique_ptr<wire::Listener> wire_listener_;
  std::string wire_address_;
};

// The router client's behaviour, the same over either transport.
class RouterClientTest : public GrpcClientsTest, public ::testing::WithParamInterface<std::string> {
 protected:
  std::unique_ptr<StreamRouterClient> MakeRouter(std::string address = "") {
    if (GetParam() == "grpc") {
      return std::make_unique<GrpcRouterClient>(
          grpcutil::MakeChannel(address.empty() ? address_ : address));
    }
    auto client = std::make_unique<WireRouterClient>(address.empty() ? wire_address_ : address);
    client->Bind({io_.get_executor()});
    return client;
  }
};

INSTANTIATE_TEST_SUITE_P(Transports, RouterClientTest, ::testing::Values("grpc", "wire"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

TEST_P(RouterClientTest, RouterCallsShareOneStreamAndCarryTheirContext) {
  auto router = MakeRouter();
  RouterClient& client = *router;
  constexpr int kCalls = 40;
  std::vector<std::string> replies = Run([&]() -> asio::awaitable<std::vector<std::string>> {
    std::vector<std::unique_ptr<RouterCall>> calls;
    for (int i = 0; i < kCalls; ++i) calls.push_back(client.Call(Message("m" + std::to_string(i))));
    std::vector<std::string> out;
    for (auto& call : calls) {
      absl::StatusOr<RouterFrame> frame = co_await call->Next();
      out.push_back(frame.ok() && frame->final ? frame->message : "error");
    }
    co_return out;
  }());
  for (int i = 0; i < kCalls; ++i) EXPECT_EQ(replies[i], "reply:m" + std::to_string(i));
  EXPECT_EQ(router_service_.streams.load(), 1);

  std::lock_guard<std::mutex> lock(router_service_.mu);
  std::set<uint64_t> ids;
  for (const RouterRequest& r : router_service_.requests) ids.insert(r.call_id());
  EXPECT_EQ(ids.size(), static_cast<size_t>(kCalls));
  const RouterRequest& first = router_service_.requests.front();
  EXPECT_EQ(first.endpoint(), "team");
  EXPECT_EQ(first.session_id(), "s-1");
  EXPECT_EQ(first.protocol_version(), "2025-06-18");
  EXPECT_EQ(first.principal().user_email(), "ada@example.com");
  EXPECT_EQ(first.principal().api_key_id(), "k1");
  EXPECT_FALSE(first.cancel());
}

TEST_P(RouterClientTest, NotificationsArriveBeforeTheFinalFrame) {
  auto router = MakeRouter();
  RouterClient& client = *router;
  auto call = client.Call(Message("notify:x"));
  auto frames = Run(AllFrames(*call));
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0]->message, "note");
  EXPECT_FALSE(frames[0]->final);
  EXPECT_EQ(frames[1]->message, "reply:notify:x");
  EXPECT_TRUE(frames[1]->final);
}

TEST_P(RouterClientTest, CallIdZeroFramesGoToTheSessionHandler) {
  auto router = MakeRouter();
  RouterClient& client = *router;
  std::mutex mu;
  std::vector<std::pair<std::string, std::string>> received;
  client.SetSessionMessageHandler([&](std::string session_id, std::string message) {
    std::lock_guard<std::mutex> lock(mu);
    received.emplace_back(std::move(session_id), std::move(message));
  });
  auto call = client.Call(Message("session:list_changed"));
  auto frames = Run(AllFrames(*call));
  ASSERT_EQ(frames.size(), 1u);  // the call sees only its own reply
  EXPECT_EQ(frames[0]->message, "reply:session:list_changed");
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(received.size(), 1u);
  EXPECT_EQ(received[0].first, "s-1");
  EXPECT_EQ(received[0].second, "list_changed");
}

TEST_P(RouterClientTest, BrokenStreamFailsPendingCallsAndTheNextCallReconnects) {
  auto router = MakeRouter();
  RouterClient& client = *router;
  auto pending = client.Call(Message("hang"));
  ASSERT_TRUE(router_service_.WaitFor([](const auto& r) { return r.size() == 1; }));
  auto breaker = client.Call(Message("break"));
  auto pending_frames = Run(AllFrames(*pending));
  ASSERT_EQ(pending_frames.size(), 1u);
  EXPECT_EQ(pending_frames[0].status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(Run(AllFrames(*breaker))[0].status().code(), absl::StatusCode::kUnavailable);

  auto next = client.Call(Message("again"));
  auto frames = Run(AllFrames(*next));
  ASSERT_TRUE(frames[0].ok()) << frames[0].status();
  EXPECT_EQ(frames[0]->message, "reply:again");
  EXPECT_EQ(router_service_.streams.load(), 2);
}

TEST_P(RouterClientTest, DroppingAnUnfinishedCallCancelsItAtTheRouter) {
  auto router = MakeRouter();
  RouterClient& client = *router;
  auto call = client.Call(Message("hang"));
  ASSERT_TRUE(router_service_.WaitFor([](const auto& r) { return r.size() == 1; }));
  uint64_t call_id = router_service_.requests[0].call_id();
  call.reset();
  ASSERT_TRUE(router_service_.WaitFor(
      [&](const auto& r) { return r.size() == 2 && r[1].cancel() && r[1].call_id() == call_id; }));
  // A finished call sends nothing more.
  auto done = client.Call(Message("x"));
  Run(AllFrames(*done));
  done.reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::lock_guard<std::mutex> lock(router_service_.mu);
  EXPECT_EQ(router_service_.requests.size(), 3u);
}

TEST_P(RouterClientTest, SendIsFireAndForget) {
  auto router = MakeRouter();
  RouterClient& client = *router;
  client.Send(Message("hang"));
  ASSERT_TRUE(router_service_.WaitFor([](const auto& r) { return r.size() == 1; }));
  EXPECT_EQ(router_service_.requests[0].message(), "hang");
  EXPECT_NE(router_service_.requests[0].call_id(), 0u);
}

TEST_P(RouterClientTest, UnreachableRouterFailsCallsQuickly) {
  auto router = MakeRouter("127.0.0.1:1");
  RouterClient& client = *router;
  auto start = std::chrono::steady_clock::now();
  auto call = client.Call(Message("x"));
  auto frames = Run(AllFrames(*call));
  EXPECT_EQ(frames[0].status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(GrpcClientsTest, AuthCarriesTheQueryAndMapsDecisions) {
  GrpcAuthClient client(grpcutil::MakeChannel(address_), std::chrono::seconds(2));
  AuthQuery query{"team", "allow", "x-api-key", "github__search", "s-1", "10.0.0.1"};
  absl::StatusOr<AuthResult> allowed = Run(client.Authorize(query));
  ASSERT_TRUE(allowed.ok()) << allowed.status();
  EXPECT_EQ(allowed->decision, AuthResult::Decision::kAllow);
  EXPECT_EQ(allowed->user_email, "ada@example.com");
  EXPECT_EQ(allowed->api_key_id, "k1");
  EXPECT_EQ(allowed->namespace_name, "ns");
  EXPECT_EQ(allowed->reuse, std::chrono::milliseconds(1500));
  EXPECT_EQ(allowed->config_revision, 42);
  {
    std::lock_guard<std::mutex> lock(auth_service_.mu);
    EXPECT_EQ(auth_service_.last.endpoint(), "team");
    EXPECT_EQ(auth_service_.last.credential(), "allow");
    EXPECT_EQ(auth_service_.last.credential_source(), "x-api-key");
    EXPECT_EQ(auth_service_.last.tool(), "github__search");
    EXPECT_EQ(auth_service_.last.session_id(), "s-1");
    EXPECT_EQ(auth_service_.last.remote_address(), "10.0.0.1");
  }
  query.credential = "limited";
  absl::StatusOr<AuthResult> limited = Run(client.Authorize(query));
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(limited->decision, AuthResult::Decision::kRateLimited);
  EXPECT_EQ(limited->retry_after_seconds, 3);
  EXPECT_EQ(limited->reason, "slow down");
  EXPECT_EQ(limited->reuse, std::chrono::milliseconds(0));
  query.credential = "forbidden";
  EXPECT_EQ(Run(client.Authorize(query))->decision, AuthResult::Decision::kForbidden);
  query.credential = "nowhere";
  EXPECT_EQ(Run(client.Authorize(query))->decision, AuthResult::Decision::kNotFound);
  query.credential = "wrong";
  EXPECT_EQ(Run(client.Authorize(query))->decision, AuthResult::Decision::kUnauthenticated);
  query.credential = "unspecified";
  EXPECT_EQ(Run(client.Authorize(query)).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(GrpcClientsTest, AuthDeadlineAndUnreachableAreUnavailable) {
  GrpcAuthClient slow(grpcutil::MakeChannel(address_), std::chrono::milliseconds(200));
  AuthQuery query{"team", "slow", "x-api-key", "", "", ""};
  auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(Run(slow.Authorize(query)).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(550));

  GrpcAuthClient down(grpcutil::MakeChannel("127.0.0.1:1"), std::chrono::seconds(2));
  EXPECT_EQ(Run(down.Authorize(query)).status().code(), absl::StatusCode::kUnavailable);
}

// Inside `a || b` the awaiting coroutine has a connected cancellation slot, as every request
// handler of the HTTP server does.
TEST_P(RouterClientTest, AwaitsInsideCancellableGroupsCompleteOrCancel) {
  GrpcAuthClient auth(grpcutil::MakeChannel(address_), std::chrono::seconds(2));
  auto router_client = MakeRouter();
  RouterClient& router = *router_client;
  constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
  std::string outcome = Run([&]() -> asio::awaitable<std::string> {
    auto ex = co_await asio::this_coro::executor;
    AuthQuery query{"team", "allow", "x-api-key", "", "", ""};
    asio::steady_timer long_wait(ex, std::chrono::seconds(10));
    auto allowed = co_await (auth.Authorize(query) || long_wait.async_wait(kTuple));
    if (allowed.index() != 0 || !std::get<0>(allowed).ok()) co_return "auth did not answer";

    query.credential = "slow";
    asio::steady_timer short_wait(ex, std::chrono::milliseconds(50));
    auto start = std::chrono::steady_clock::now();
    auto abandoned = co_await (auth.Authorize(query) || short_wait.async_wait(kTuple));
    if (abandoned.index() != 1) co_return "slow auth was not abandoned";
    if (std::chrono::steady_clock::now() - start > std::chrono::milliseconds(400)) {
      co_return "abandoned auth call was not cancelled";
    }

    auto call = router.Call(Message("notify:y"));
    asio::steady_timer router_wait(ex, std::chrono::seconds(10));
    auto first = co_await (call->Next() || router_wait.async_wait(kTuple));
    if (first.index() != 0 || !std::get<0>(first).ok() || std::get<0>(first)->message != "note") {
      co_return "no notification";
    }
    auto hung = router.Call(Message("hang"));
    asio::steady_timer hang_wait(ex, std::chrono::milliseconds(50));
    auto timed_out = co_await (hung->Next() || hang_wait.async_wait(kTuple));
    if (timed_out.index() != 1) co_return "hung call answered";
    // The frame that was waiting is still there after a cancelled wait.
    absl::StatusOr<RouterFrame> last = co_await call->Next();
    if (!last.ok() || !last->final || last->message != "reply:notify:y") co_return "lost frame";
    co_return "ok";
  }());
  EXPECT_EQ(outcome, "ok");
}

}  // namespace
}  // namespace switchboard::edge
