#include "services/edge/src/call_registry.h"

#include <gtest/gtest.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <thread>

namespace switchboard::edge {
namespace {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Pops everything a queue holds right now, on a private io_context.
std::vector<absl::StatusOr<RouterFrame>> Drain(const std::shared_ptr<FrameQueue>& queue) {
  std::vector<absl::StatusOr<RouterFrame>> out;
  asio::io_context io;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        while (queue->size() > 0) {
          auto [ec, frame] = co_await queue->AsyncPop(kTuple);
          if (ec) break;
          out.push_back(std::move(frame));
        }
      },
      asio::detached);
  io.run();
  return out;
}

TEST(CallRegistryTest, RoutesFramesByCallIdAndEndsAtTheFinalFrame) {
  CallRegistry registry;
  auto a = std::make_shared<FrameQueue>(16);
  auto b = std::make_shared<FrameQueue>(16);
  registry.Add(1, 1, a);
  registry.Add(2, 1, b);
  EXPECT_EQ(registry.size(), 2u);

  EXPECT_EQ(registry.Deliver(1, {"note-a", false}), CallRegistry::DeliverResult::kDelivered);
  EXPECT_EQ(registry.Deliver(2, {"final-b", true}), CallRegistry::DeliverResult::kDelivered);
  EXPECT_EQ(registry.Deliver(1, {"final-a", true}), CallRegistry::DeliverResult::kDelivered);
  EXPECT_EQ(registry.size(), 0u);
  EXPECT_EQ(registry.Deliver(1, {"late", false}), CallRegistry::DeliverResult::kUnknown);
  EXPECT_EQ(registry.Deliver(99, {"stray", true}), CallRegistry::DeliverResult::kUnknown);

  auto frames_a = Drain(a);
  ASSERT_EQ(frames_a.size(), 2u);
  EXPECT_EQ(frames_a[0]->message, "note-a");
  EXPECT_FALSE(frames_a[0]->final);
  EXPECT_EQ(frames_a[1]->message, "final-a");
  EXPECT_TRUE(frames_a[1]->final);
  EXPECT_TRUE(a->closed());
  auto frames_b = Drain(b);
  ASSERT_EQ(frames_b.size(), 1u);
  EXPECT_EQ(frames_b[0]->message, "final-b");
}

TEST(CallRegistryTest, RemoveDropsLaterFrames) {
  CallRegistry registry;
  auto q = std::make_shared<FrameQueue>(16);
  registry.Add(7, 1, q);
  EXPECT_TRUE(registry.Remove(7));
  EXPECT_FALSE(registry.Remove(7));
  EXPECT_EQ(registry.Deliver(7, {"x", true}), CallRegistry::DeliverResult::kUnknown);
  EXPECT_EQ(q->size(), 0u);
}

TEST(CallRegistryTest, FailGenerationEndsOnlyThatStreamsCalls) {
  CallRegistry registry;
  auto old1 = std::make_shared<FrameQueue>(16);
  auto old2 = std::make_shared<FrameQueue>(16);
  auto fresh = std::make_shared<FrameQueue>(16);
  registry.Add(1, 1, old1);
  registry.Add(2, 1, old2);
  registry.Add(3, 2, fresh);
  registry.Deliver(1, {"before", false});

  EXPECT_EQ(registry.FailGeneration(1, absl::UnavailableError("router unavailable")), 2u);
  EXPECT_EQ(registry.size(), 1u);
  auto frames = Drain(old1);
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[0]->message, "before");
  EXPECT_EQ(frames[1].status().code(), absl::StatusCode::kUnavailable);
  EXPECT_TRUE(old2->closed());
  EXPECT_FALSE(fresh->closed());
  EXPECT_EQ(registry.Deliver(3, {"ok", true}), CallRegistry::DeliverResult::kDelivered);
}

TEST(CallRegistryTest, OverflowEndsTheCallWithAnError) {
  CallRegistry registry;
  auto q = std::make_shared<FrameQueue>(2);
  registry.Add(5, 1, q);
  EXPECT_EQ(registry.Deliver(5, {"1", false}), CallRegistry::DeliverResult::kDelivered);
  EXPECT_EQ(registry.Deliver(5, {"2", false}), CallRegistry::DeliverResult::kDelivered);
  EXPECT_EQ(registry.Deliver(5, {"3", false}), CallRegistry::DeliverResult::kOverflow);
  EXPECT_EQ(registry.size(), 0u);
  auto frames = Drain(q);
  ASSERT_EQ(frames.size(), 3u);
  EXPECT_EQ(frames[2].status().code(), absl::StatusCode::kResourceExhausted);
}

TEST(AsyncQueueTest, DeliversFromAnotherThreadToTheWaitersExecutor) {
  asio::io_context io;
  auto queue = std::make_shared<AsyncQueue<int>>(100);
  std::thread::id consumer_thread;
  std::vector<int> got;
  std::vector<std::thread::id> threads;
  auto done = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        consumer_thread = std::this_thread::get_id();
        while (true) {
          auto [ec, v] = co_await queue->AsyncPop(kTuple);
          threads.push_back(std::this_thread::get_id());
          if (ec) co_return;
          got.push_back(v);
        }
      },
      asio::use_future);
  std::thread producer([&] {
    for (int i = 0; i < 50; ++i) {
      EXPECT_TRUE(queue->Push(i));
      if (i % 10 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    queue->Close();
    EXPECT_FALSE(queue->Push(99));
  });
  io.run();
  producer.join();
  done.get();
  ASSERT_EQ(got.size(), 50u);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(got[i], i);
  for (auto id : threads) EXPECT_EQ(id, consumer_thread);
}

TEST(AsyncQueueTest, CancelledWaiterLosesNothing) {
  asio::io_context io;
  auto queue = std::make_shared<AsyncQueue<int>>(100);
  auto result = asio::co_spawn(
      io,
      [&]() -> asio::awaitable<std::vector<int>> {
        std::vector<int> got;
        // Time out a few waits, with values arriving around the deadline.
        for (int round = 0; round < 20; ++round) {
          asio::steady_timer timer(co_await asio::this_coro::executor,
                                   std::chrono::microseconds(200 + 37 * round));
          auto r = co_await (queue->AsyncPop(kTuple) || timer.async_wait(kTuple));
          if (r.index() == 0) {
            auto [ec, v] = std::get<0>(r);
            if (!ec) got.push_back(v);
          }
        }
        while (got.size() < 20) {
          auto [ec, v] = co_await queue->AsyncPop(kTuple);
          if (ec) break;
          got.push_back(v);
        }
        co_return got;
      },
      asio::use_future);
  std::thread producer([&] {
    for (int i = 0; i < 20; ++i) {
      queue->Push(i);
      std::this_thread::sleep_for(std::chrono::microseconds(300));
    }
  });
  io.run();
  producer.join();
  std::vector<int> got = result.get();
  ASSERT_EQ(got.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(got[i], i);
}

TEST(AsyncQueueTest, FullQueueRefusesAndFinishStillEnds) {
  auto queue = std::make_shared<AsyncQueue<int>>(1);
  EXPECT_TRUE(queue->Push(1));
  EXPECT_FALSE(queue->Push(2));
  EXPECT_TRUE(queue->Finish(3));
  EXPECT_FALSE(queue->Finish(4));
  EXPECT_EQ(queue->size(), 2u);
  asio::io_context io;
  std::vector<int> got;
  boost::system::error_code last;
  asio::co_spawn(
      io,
      [&]() -> asio::awaitable<void> {
        while (true) {
          auto [ec, v] = co_await queue->AsyncPop(kTuple);
          if (ec) {
            last = ec;
            co_return;
          }
          got.push_back(v);
        }
      },
      asio::detached);
  io.run();
  EXPECT_EQ(got, (std::vector<int>{1, 3}));
  EXPECT_EQ(last, asio::error::eof);
}

}  // namespace
}  // namespace switchboard::edge
