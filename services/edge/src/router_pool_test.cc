#include "services/edge/src/router_pool.h"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <thread>

#include "services/edge/src/edge_fakes.h"
#include "services/edge/src/grpc_router_client.h"
#include "switchboard/common/strings.h"
#include "switchboard/grpcutil/server.h"

namespace switchboard::edge {
namespace {

struct Pool {
  // `n` fake routers named r0..r{n-1}; `down[i]` makes member i unavailable.
  explicit Pool(size_t n) : down(n, false) {
    std::vector<RouterPool::Member> members;
    for (size_t i = 0; i < n; ++i) {
      auto fake = std::make_unique<FakeRouterClient>();
      fakes.push_back(fake.get());
      members.push_back({StrCat("r", i), std::move(fake), [this, i] { return !down[i]; }});
    }
    pool = std::make_unique<RouterPool>(std::move(members));
  }
  std::vector<FakeRouterClient*> fakes;
  std::vector<bool> down;
  std::unique_ptr<RouterPool> pool;
};

RouterMessage ForSession(std::string session) {
  RouterMessage m;
  m.session_id = std::move(session);
  m.message = R"({"jsonrpc":"2.0","id":1,"method":"ping"})";
  return m;
}

TEST(RouterPoolTest, ASessionSticksToOneRouterAndSessionsSpreadOverAll) {
  Pool p(3);
  std::map<size_t, int> per_member;
  for (int s = 0; s < 3000; ++s) {
    std::string session = StrCat("session-", s);
    size_t first = p.pool->Pick(session);
    EXPECT_EQ(p.pool->Pick(session), first);
    ++per_member[first];
  }
  // Each of the three takes its share (a third, give or take a generous margin).
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_GT(per_member[i], 800) << i;
    EXPECT_LT(per_member[i], 1200) << i;
  }
  // Calls and notifications of a session reach the same router.
  auto call = p.pool->Call(ForSession("abc"));
  p.pool->Send(ForSession("abc"));
  size_t owner = p.pool->Pick("abc");
  EXPECT_EQ(p.fakes[owner]->calls().size(), 1u);
  EXPECT_EQ(p.fakes[owner]->sent().size(), 1u);
}

TEST(RouterPoolTest, EveryEdgeReplicaPicksTheSameRouterForASession) {
  Pool a(3), b(3);
  for (int s = 0; s < 200; ++s) {
    std::string session = StrCat("s", s);
    EXPECT_EQ(a.pool->Pick(session), b.pool->Pick(session));
  }
}

TEST(RouterPoolTest, OnlyTheSessionsOfALostRouterMove) {
  Pool p(3);
  std::map<std::string, size_t> before;
  for (int s = 0; s < 600; ++s) before[StrCat("s", s)] = p.pool->Pick(StrCat("s", s));
  p.down[1] = true;
  int moved = 0;
  for (const auto& [session, member] : before) {
    size_t now = p.pool->Pick(session);
    EXPECT_NE(now, 1u);
    if (member != 1) {
      EXPECT_EQ(now, member) << session;  // untouched
    } else {
      EXPECT_EQ(now, p.pool->Rank(session)[1]);  // its next-ranked router
      ++moved;
    }
  }
  EXPECT_GT(moved, 0);
  // Back up: the sessions return to it.
  p.down[1] = false;
  for (const auto& [session, member] : before) EXPECT_EQ(p.pool->Pick(session), member);
}

TEST(RouterPoolTest, MessagesWithoutASessionGoRoundRobinOverAvailableRouters) {
  Pool p(3);
  p.down[2] = true;
  std::multiset<size_t> picked;
  for (int k = 0; k < 10; ++k) picked.insert(p.pool->Pick(""));
  EXPECT_EQ(picked.count(2), 0u);
  EXPECT_GE(picked.count(0), 3u);
  EXPECT_GE(picked.count(1), 3u);
  // None available: still an answer (which fails at the router client, clearly): the next in
  // turn, or the session's own.
  p.down = {true, true, true};
  size_t turn = p.pool->Pick("");
  EXPECT_LT(turn, 3u);
  EXPECT_EQ(p.pool->Pick(""), (turn + 1) % 3);
  for (int s = 0; s < 20; ++s) {
    std::string session = StrCat("x", s);
    EXPECT_EQ(p.pool->Pick(session), p.pool->Rank(session)[0]) << session;
  }
}

TEST(RouterPoolTest, ARouterThatRefusesConnectionsIsSoonUnavailable) {
  // Nothing listens on port 1.
  GrpcRouterClient client(grpcutil::MakeChannel("127.0.0.1:1"));
  bool unavailable = false;
  for (int i = 0; i < 200 && !unavailable; ++i) {
    unavailable = !client.Available();
    if (!unavailable) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_TRUE(unavailable);
}

}  // namespace
}  // namespace switchboard::edge
