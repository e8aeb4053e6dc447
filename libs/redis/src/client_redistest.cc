#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <future>
#include <mutex>
#include <thread>

#include "switchboard/common/crypto.h"
#include "switchboard/redis/client.h"
#include "switchboard/redis/testing.h"

namespace switchboard::redis {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

class RedisClientTest : public ::testing::Test {
 protected:
  // Runs a coroutine on the io thread and waits for it.
  template <typename F>
  auto Run(F f) {
    return asio::co_spawn(ctx_, f(), asio::use_future).get();
  }

  void SetUp() override {
    auto endpoint = testing::TestRedisEndpoint();
    ASSERT_TRUE(endpoint.ok()) << endpoint.status();
    endpoint_ = *endpoint;
    prefix_ = "sbtest:redis:" + crypto::RandomHex(8) + ":";
    thread_ = std::thread([this] { ctx_.run(); });
  }

  void TearDown() override {
    if (thread_.joinable()) {
      auto client = RedisClient::Create(ctx_.get_executor(), endpoint_);
      Run([&]() -> asio::awaitable<void> {
        // Commands are built before co_await: GCC 12 cannot keep an initializer_list's array
        // alive across a suspension point.
        std::vector<std::string> scan = {"KEYS", prefix_ + "*"};
        auto [ec, keys] = co_await client->AsyncCommand(std::move(scan), kTuple);
        if (!ec && keys.IsArray() && !keys.elements.empty()) {
          std::vector<std::string> del = {"DEL"};
          for (const Reply& k : keys.elements) del.push_back(k.str);
          co_await client->AsyncCommand(del, kTuple);
        }
      });
      client.reset();
      work_.reset();
      thread_.join();
    }
  }

  // One command, from the test thread.
  std::pair<error_code, Reply> Command(RedisClient& client, std::vector<std::string> args) {
    return Run([&]() -> asio::awaitable<std::pair<error_code, Reply>> {
      auto [ec, reply] = co_await client.AsyncCommand(std::move(args), kTuple);
      co_return std::make_pair(ec, std::move(reply));
    });
  }

  std::string Key(std::string_view name) { return prefix_ + std::string(name); }

  asio::io_context ctx_;
  asio::executor_work_guard<asio::io_context::executor_type> work_{ctx_.get_executor()};
  std::thread thread_;
  RedisEndpoint endpoint_;
  std::string prefix_;
};

TEST_F(RedisClientTest, SetGetHsetExpire) {
  auto client = RedisClient::Create(ctx_.get_executor(), endpoint_);
  auto [set_ec, set] = Command(*client, {"SET", Key("k"), "v1"});
  ASSERT_FALSE(set_ec) << set_ec.message();
  EXPECT_TRUE(set.IsOk());

  auto [get_ec, get] = Command(*client, {"GET", Key("k")});
  ASSERT_FALSE(get_ec);
  ASSERT_TRUE(get.IsString());
  EXPECT_EQ(get.str, "v1");

  auto [missing_ec, missing] = Command(*client, {"GET", Key("missing")});
  ASSERT_FALSE(missing_ec);
  EXPECT_TRUE(missing.IsNil());

  auto [hset_ec, hset] = Command(*client, {"HSET", Key("h"), "a", "1", "b", "2"});
  ASSERT_FALSE(hset_ec);
  EXPECT_EQ(hset.integer, 2);
  auto [all_ec, all] = Command(*client, {"HGETALL", Key("h")});
  ASSERT_FALSE(all_ec);
  ASSERT_TRUE(all.IsArray());
  EXPECT_EQ(all.elements.size(), 4u);

  auto [expire_ec, expire] = Command(*client, {"EXPIRE", Key("h"), "100"});
  ASSERT_FALSE(expire_ec);
  EXPECT_EQ(expire.integer, 1);
  auto [ttl_ec, ttl] = Command(*client, {"TTL", Key("h")});
  ASSERT_FALSE(ttl_ec);
  EXPECT_GT(ttl.integer, 90);
  EXPECT_LE(ttl.integer, 100);

  std::string binary("a\0\r\nb", 5);
  Command(*client, {"SET", Key("bin"), binary});
  EXPECT_EQ(Command(*client, {"GET", Key("bin")}).second.str, binary);
}

TEST_F(RedisClientTest, PipelinedBurstCompletesInOrder) {
  auto client = RedisClient::Create(ctx_.get_executor(), endpoint_);
  constexpr int kCount = 1000;
  std::mutex mu;
  std::vector<int64_t> lengths;
  std::promise<void> done;
  std::atomic<int> remaining{kCount};
  // Every command is issued before the first reply can be read, so they share the connection.
  asio::post(ctx_, [&] {
    for (int i = 0; i < kCount; ++i) {
      client->AsyncCommand({"RPUSH", Key("list"), std::to_string(i)},
                           [&](error_code ec, Reply reply) {
                             std::lock_guard<std::mutex> lock(mu);
                             lengths.push_back(ec ? -1 : reply.integer);
                             if (--remaining == 0) done.set_value();
                           });
    }
  });
  ASSERT_EQ(done.get_future().wait_for(std::chrono::seconds(20)), std::future_status::ready);
  ASSERT_EQ(lengths.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(lengths[i], i + 1) << "reply " << i;

  auto [ec, range] = Command(*client, {"LRANGE", Key("list"), "0", "-1"});
  ASSERT_FALSE(ec);
  ASSERT_EQ(range.elements.size(), static_cast<size_t>(kCount));
  for (int i = 0; i < kCount; ++i) ASSERT_EQ(range.elements[i].str, std::to_string(i));
}

TEST_F(RedisClientTest, PipelineRunsCommandsBackToBackWithOneReplyEach) {
  auto client = RedisClient::Create(ctx_.get_executor(), endpoint_);
  std::vector<std::vector<std::string>> commands = {
      {"MULTI"}, {"HSET", Key("p"), "a", "1"}, {"EXPIRE", Key("p"), "60"},
      {"EXEC"},  {"HGET", Key("p"), "a"},      {"HSET", Key("p")}};
  auto [ec, replies] = Run([&]() -> asio::awaitable<std::pair<error_code, std::vector<Reply>>> {
    auto [e, r] = co_await client->AsyncPipeline(std::move(commands), kTuple);
    co_return std::make_pair(e, std::move(r));
  });
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_EQ(replies.size(), 6u);
  EXPECT_TRUE(replies[0].IsOk());
  EXPECT_EQ(replies[1].str, "QUEUED");
  ASSERT_TRUE(replies[3].IsArray());
  ASSERT_EQ(replies[3].elements.size(), 2u);
  EXPECT_EQ(replies[3].elements[0].integer, 1);
  EXPECT_EQ(replies[3].elements[1].integer, 1);
  EXPECT_EQ(replies[4].str, "1");
  EXPECT_TRUE(replies[5].IsError());

  auto [empty_ec, none] = Run([&]() -> asio::awaitable<std::pair<error_code, std::vector<Reply>>> {
    auto [e, r] = co_await client->AsyncPipeline({}, kTuple);
    co_return std::make_pair(e, std::move(r));
  });
  EXPECT_FALSE(empty_ec);
  EXPECT_TRUE(none.empty());
}

TEST_F(RedisClientTest, LargeValuesCrossManyReads) {
  auto client = RedisClient::Create(ctx_.get_executor(), endpoint_);
  std::string big(3 * 1024 * 1024 + 17, 'x');
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  ASSERT_TRUE(Command(*client, {"SET", Key("big"), big}).second.IsOk());
  auto [ec, got] = Command(*client, {"GET", Key("big")});
  ASSERT_FALSE(ec);
  EXPECT_EQ(got.str.size(), big.size());
  EXPECT_TRUE(got.str == big);
}

TEST_F(RedisClientTest, ErrorReplyIsSurfacedAndTheConnectionStaysUsable) {
  auto client = RedisClient::Create(ctx_.get_executor(), endpoint_);
  Command(*client, {"SET", Key("str"), "x"});
  auto [ec, reply] = Command(*client, {"HSET", Key("str"), "f", "v"});
  EXPECT_FALSE(ec);
  ASSERT_TRUE(reply.IsError());
  EXPECT_EQ(reply.str.rfind("WRONGTYPE", 0), 0u) << reply.str;

  auto [unknown_ec, unknown] = Command(*client, {"NOSUCHCOMMAND", "x"});
  EXPECT_FALSE(unknown_ec);
  EXPECT_TRUE(unknown.IsError());

  EXPECT_EQ(Command(*client, {"PING"}).second.str, "PONG");
}

TEST_F(RedisClientTest, InFlightCommandFailsOnClientKillAndTheNextReconnects) {
  auto client = RedisClient::Create(ctx_.get_executor(), endpoint_,
                                    {.command_timeout = std::chrono::seconds(30)});
  auto killer = RedisClient::Create(ctx_.get_executor(), endpoint_);
  auto [id_ec, id] = Command(*client, {"CLIENT", "ID"});
  ASSERT_FALSE(id_ec);
  std::string client_id = std::to_string(id.integer);

  std::promise<error_code> blpop_result;
  asio::post(ctx_, [&] {
    client->AsyncCommand({"BLPOP", Key("never"), "20"},
                         [&](error_code ec, Reply) { blpop_result.set_value(ec); });
  });
  // Wait until Redis shows the BLPOP as running on that connection, then kill it.
  bool blocked = false;
  for (int i = 0; i < 100 && !blocked; ++i) {
    auto [ec, list] = Command(*killer, {"CLIENT", "LIST", "ID", client_id});
    blocked = !ec && list.str.find("cmd=blpop") != std::string::npos;
    if (!blocked) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(blocked);
  auto [kill_ec, killed] = Command(*killer, {"CLIENT", "KILL", "ID", client_id});
  ASSERT_FALSE(kill_ec);
  EXPECT_EQ(killed.integer, 1);

  auto future = blpop_result.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_EQ(future.get(), make_error_code(Error::kConnectionLost));

  auto [ping_ec, pong] = Command(*client, {"PING"});
  ASSERT_FALSE(ping_ec) << ping_ec.message();
  EXPECT_EQ(pong.str, "PONG");
  auto [new_id_ec, new_id] = Command(*client, {"CLIENT", "ID"});
  ASSERT_FALSE(new_id_ec);
  EXPECT_NE(new_id.integer, id.integer);
}

TEST_F(RedisClientTest, SilentServerTimesOutAndTheConnectionIsReset) {
  auto client = RedisClient::Create(ctx_.get_executor(), endpoint_,
                                    {.command_timeout = std::chrono::milliseconds(300)});
  auto start = std::chrono::steady_clock::now();
  auto [ec, reply] = Command(*client, {"BLPOP", Key("never"), "5"});
  EXPECT_EQ(ec, make_error_code(Error::kTimeout));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3));
  auto [ping_ec, pong] = Command(*client, {"PING"});
  ASSERT_FALSE(ping_ec) << ping_ec.message();
  EXPECT_EQ(pong.str, "PONG");
}

TEST_F(RedisClientTest, DatabaseFromTheUrlIsSelected) {
  RedisEndpoint db1 = endpoint_;
  db1.db = 1;
  auto on_db1 = RedisClient::Create(ctx_.get_executor(), db1);
  auto on_db0 = RedisClient::Create(ctx_.get_executor(), endpoint_);
  ASSERT_TRUE(Command(*on_db1, {"SET", Key("db"), "one", "EX", "60"}).second.IsOk());
  EXPECT_TRUE(Command(*on_db0, {"GET", Key("db")}).second.IsNil());
  EXPECT_EQ(Command(*on_db1, {"GET", Key("db")}).second.str, "one");
  Command(*on_db1, {"DEL", Key("db")});
}

TEST_F(RedisClientTest, RefusedAuthFailsTheCommandWithHandshakeError) {
  RedisEndpoint with_password = endpoint_;
  with_password.password = "not-configured";
  auto client = RedisClient::Create(ctx_.get_executor(), with_password);
  auto [ec, reply] = Command(*client, {"PING"});
  EXPECT_EQ(ec, make_error_code(Error::kHandshake));
}

TEST_F(RedisClientTest, UnreachableServerFailsFastAndClosedClientRefuses) {
  RedisEndpoint nowhere = endpoint_;
  nowhere.port = 1;
  auto client = RedisClient::Create(ctx_.get_executor(), nowhere);
  auto [ec, reply] = Command(*client, {"PING"});
  EXPECT_TRUE(ec);

  auto good = RedisClient::Create(ctx_.get_executor(), endpoint_);
  good->Close();
  EXPECT_EQ(Command(*good, {"PING"}).first, make_error_code(Error::kClosed));
}

}  // namespace
}  // namespace switchboard::redis

namespace switchboard::redis {
namespace {

// With one connection per io thread, each thread's commands go on its own connection, and a
// thread that is none of them uses the first.
TEST(RedisClientPerThreadTest, EachIoThreadUsesItsOwnConnection) {
  auto endpoint = testing::TestRedisEndpoint();
  ASSERT_TRUE(endpoint.ok()) << endpoint.status();
  asio::io_context first, second;
  auto work1 = asio::make_work_guard(first);
  auto work2 = asio::make_work_guard(second);
  std::thread t1([&] { first.run(); });
  std::thread t2([&] { second.run(); });
  auto client = RedisClient::Create({first.get_executor(), second.get_executor()}, *endpoint);
  auto client_id = [&](asio::io_context& on) {
    return asio::co_spawn(
               on,
               [&]() -> asio::awaitable<int64_t> {
                 std::vector<std::string> command = {"CLIENT", "ID"};
                 auto [ec, reply] = co_await client->AsyncCommand(std::move(command), kTuple);
                 co_return ec ? -1 : reply.integer;
               },
               asio::use_future)
        .get();
  };
  int64_t on_first = client_id(first);
  int64_t on_second = client_id(second);
  EXPECT_GT(on_first, 0);
  EXPECT_GT(on_second, 0);
  EXPECT_NE(on_first, on_second);
  EXPECT_EQ(client_id(first), on_first);  // the same connection each time
  std::vector<std::string> command = {"CLIENT", "ID"};
  Reply elsewhere = client->AsyncCommand(std::move(command), asio::use_future).get();
  EXPECT_EQ(elsewhere.integer, on_first);
  client->Close();
  client.reset();
  work1.reset();
  work2.reset();
  t1.join();
  t2.join();
}

}  // namespace
}  // namespace switchboard::redis
