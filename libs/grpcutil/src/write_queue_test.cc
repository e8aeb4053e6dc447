#include "switchboard/grpcutil/write_queue.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace switchboard::grpcutil {
namespace {

struct Harness {
  std::vector<std::string> started;
  int drained = 0;
  WriteQueue<std::string> queue{[this](const std::string* m) { started.push_back(*m); },
                                [this] { ++drained; }, 3};
};

TEST(WriteQueueTest, OneWriteInFlightAtATime) {
  Harness h;
  EXPECT_TRUE(h.queue.Push("a"));
  EXPECT_TRUE(h.queue.Push("b"));
  EXPECT_EQ(h.started, std::vector<std::string>{"a"});
  h.queue.OnWriteDone(true);
  EXPECT_EQ(h.started, (std::vector<std::string>{"a", "b"}));
  h.queue.OnWriteDone(true);
  EXPECT_TRUE(h.queue.Push("c"));
  EXPECT_EQ(h.started.back(), "c");
}

TEST(WriteQueueTest, CloseWaitsForTheWriteInFlight) {
  Harness h;
  h.queue.Push("a");
  h.queue.Push("b");
  h.queue.Close();
  EXPECT_EQ(h.drained, 0);
  EXPECT_FALSE(h.queue.Push("c"));
  h.queue.OnWriteDone(true);
  EXPECT_EQ(h.drained, 1);
  EXPECT_EQ(h.started.size(), 1u);
}

TEST(WriteQueueTest, FailedWriteClosesAndDrains) {
  Harness h;
  h.queue.Push("a");
  h.queue.OnWriteDone(false);
  EXPECT_TRUE(h.queue.closed());
  EXPECT_EQ(h.drained, 1);
}

TEST(WriteQueueTest, OverflowClosesInsteadOfGrowing) {
  Harness h;
  EXPECT_TRUE(h.queue.Push("1"));
  EXPECT_TRUE(h.queue.Push("2"));
  EXPECT_TRUE(h.queue.Push("3"));
  EXPECT_FALSE(h.queue.Push("4"));
  EXPECT_TRUE(h.queue.closed());
  h.queue.OnWriteDone(true);
  EXPECT_EQ(h.drained, 1);
}

}  // namespace
}  // namespace switchboard::grpcutil
