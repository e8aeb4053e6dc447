#include "switchboard/jsonrpc/id_mapper.h"

#include <gtest/gtest.h>

#include <string>

namespace switchboard::jsonrpc {
namespace {

struct Caller {
  int session;
  std::string original_id;
};

TEST(IdMapperTest, ClientsWithTheSameIdGetDistinctUpstreamIds) {
  IdMapper<Caller> ids;
  uint64_t a = ids.Add({1, "1"});
  uint64_t b = ids.Add({2, "1"});
  EXPECT_NE(a, b);
  auto cb = ids.Take(b);
  ASSERT_TRUE(cb);
  EXPECT_EQ(cb->session, 2);
  EXPECT_EQ(cb->original_id, "1");
  EXPECT_FALSE(ids.Take(b));  // a response is delivered once
  EXPECT_EQ(ids.size(), 1u);
}

TEST(IdMapperTest, DrainFailsEveryPendingCaller) {
  IdMapper<Caller> ids;
  ids.Add({1, "a"});
  ids.Add({2, "b"});
  int drained = 0;
  ids.Drain([&](uint64_t, Caller&) { ++drained; });
  EXPECT_EQ(drained, 2);
  EXPECT_EQ(ids.size(), 0u);
}

TEST(IdMapperTest, EraseIfDropsOneSessionsCalls) {
  IdMapper<Caller> ids;
  ids.Add({1, "a"});
  uint64_t keep = ids.Add({2, "b"});
  ids.Add({1, "c"});
  ids.EraseIf([](const Caller& c) { return c.session == 1; });
  EXPECT_EQ(ids.size(), 1u);
  EXPECT_NE(ids.Find(keep), nullptr);
}

}  // namespace
}  // namespace switchboard::jsonrpc
