#include "services/registry/src/call_audit_drain.h"

#include <gtest/gtest.h>

namespace switchboard::registry {
namespace {

redis::Reply Str(std::string s) {
  redis::Reply r;
  r.type = redis::Reply::Type::kString;
  r.str = std::move(s);
  return r;
}

redis::Reply Arr(std::vector<redis::Reply> elements) {
  redis::Reply r;
  r.type = redis::Reply::Type::kArray;
  r.elements = std::move(elements);
  return r;
}

redis::Reply Entry(std::string id, std::vector<std::string> fields) {
  std::vector<redis::Reply> f;
  for (std::string& s : fields) f.push_back(Str(std::move(s)));
  return Arr({Str(std::move(id)), Arr(std::move(f))});
}

TEST(CallAuditDrainTest, ParsesAnXreadgroupReply) {
  redis::Reply reply = Arr({Arr({Str(kToolCallStream),
                                 Arr({Entry("1-0", {"at_ms", "1795000000123", "user",
                                                    "dev@example.com", "endpoint", "demo", "tool",
                                                    "x__echo", "outcome", "ok", "duration_ms",
                                                    "42"}),
                                      Entry("2-0", {"at_ms", "1795000000200"}),
                                      Entry("3-0", {"endpoint", "demo", "tool", "t"})})})});
  std::vector<std::string> ids;
  auto calls = ParseToolCallEntries(reply, &ids);
  // Every id is returned (to be acknowledged); only complete entries become calls.
  EXPECT_EQ(ids, (std::vector<std::string>{"1-0", "2-0", "3-0"}));
  ASSERT_EQ(calls.size(), 1u);
  EXPECT_EQ(calls[0].first, "1-0");
  const v1::ToolCall& c = calls[0].second;
  EXPECT_EQ(c.at_unix_ms(), 1795000000123);
  EXPECT_EQ(c.user_email(), "dev@example.com");
  EXPECT_EQ(c.endpoint(), "demo");
  EXPECT_EQ(c.tool(), "x__echo");
  EXPECT_EQ(c.outcome(), "ok");
  EXPECT_EQ(c.duration_ms(), 42);
}

TEST(CallAuditDrainTest, ATimedOutReadIsEmpty) {
  std::vector<std::string> ids;
  EXPECT_TRUE(ParseToolCallEntries(redis::Reply{}, &ids).empty());
  EXPECT_TRUE(ids.empty());
}

}  // namespace
}  // namespace switchboard::registry
