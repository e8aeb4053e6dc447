#include "switchboard/redis/resp.h"

#include <gtest/gtest.h>

namespace switchboard::redis {
namespace {

TEST(RespTest, EncodesBulkStringArrays) {
  std::string out;
  AppendCommand({"SET", "k", std::string("a\0b", 3)}, &out);
  EXPECT_EQ(out, std::string("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$3\r\na\0b\r\n", 29));
  AppendCommand({"PING"}, &out);
  EXPECT_EQ(out.substr(29), "*1\r\n$4\r\nPING\r\n");
}

TEST(RespTest, DecodesEveryTypeAcrossSplitReads) {
  std::string wire = "+OK\r\n-ERR bad\r\n:42\r\n$5\r\nhello\r\n$-1\r\n*2\r\n$1\r\na\r\n:7\r\n";
  ReplyDecoder decoder;
  std::vector<Reply> replies;
  for (char c : wire) {
    ASSERT_TRUE(decoder.Feed(std::string_view(&c, 1)).ok());
    while (true) {
      auto next = decoder.Next();
      ASSERT_TRUE(next.ok());
      if (!next->has_value()) break;
      replies.push_back(std::move(**next));
    }
  }
  ASSERT_EQ(replies.size(), 6u);
  EXPECT_TRUE(replies[0].IsOk());
  EXPECT_TRUE(replies[1].IsError());
  EXPECT_EQ(replies[1].str, "ERR bad");
  EXPECT_EQ(replies[2].integer, 42);
  EXPECT_EQ(replies[3].str, "hello");
  EXPECT_TRUE(replies[4].IsNil());
  ASSERT_TRUE(replies[5].IsArray());
  ASSERT_EQ(replies[5].elements.size(), 2u);
  EXPECT_EQ(replies[5].elements[0].str, "a");
  EXPECT_EQ(replies[5].elements[1].integer, 7);
}

TEST(RespTest, ReportsProtocolErrorsAndRecoversAfterReset) {
  ReplyDecoder decoder;
  ASSERT_TRUE(decoder.Feed("?garbage\r\n").ok());
  EXPECT_FALSE(decoder.Next().ok());
  decoder.Reset();
  ASSERT_TRUE(decoder.Feed(":1\r\n").ok());
  auto next = decoder.Next();
  ASSERT_TRUE(next.ok());
  ASSERT_TRUE(next->has_value());
  EXPECT_EQ((*next)->integer, 1);
}

}  // namespace
}  // namespace switchboard::redis
