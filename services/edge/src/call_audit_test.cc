#include "services/edge/src/call_audit.h"

#include <gtest/gtest.h>

#include <vector>

namespace switchboard::edge {
namespace {

TEST(CallAuditTest, OutcomeOfAFinalMessage) {
  EXPECT_EQ(OutcomeOf(R"({"jsonrpc":"2.0","id":1,"result":{"content":[]}})"), "ok");
  EXPECT_EQ(OutcomeOf(R"({"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":false}})"),
            "ok");
  EXPECT_EQ(OutcomeOf(R"({"jsonrpc":"2.0","id":1,"result":{"content":[],"isError":true}})"),
            "tool_error");
  EXPECT_EQ(OutcomeOf(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"x"}})"),
            "error");
  EXPECT_EQ(OutcomeOf(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32002,"message":"late"}})"),
            "timeout");
  EXPECT_EQ(OutcomeOf("not json"), "error");
  EXPECT_EQ(OutcomeOf(R"({"jsonrpc":"2.0","method":"notifications/progress"})"), "error");
}

class Collect : public CallAudit {
 public:
  void Record(ToolCallRecord record) override { records.push_back(std::move(record)); }
  std::vector<ToolCallRecord> records;
};

TEST(CallAuditTest, TheHookRecordsOnceWithOutcomeAndDuration) {
  Collect audit;
  auto hook = AuditHook(&audit, "dev@example.com", "team", "github__create_issue");
  ASSERT_TRUE(hook);
  hook(R"({"jsonrpc":"2.0","id":7,"result":{"isError":true}})");
  ASSERT_EQ(audit.records.size(), 1u);
  const ToolCallRecord& r = audit.records[0];
  EXPECT_EQ(r.user_email, "dev@example.com");
  EXPECT_EQ(r.endpoint, "team");
  EXPECT_EQ(r.tool, "github__create_issue");
  EXPECT_EQ(r.outcome, "tool_error");
  EXPECT_GT(r.at_unix_ms, 1700000000000);
  EXPECT_GE(r.duration_ms, 0);
}

TEST(CallAuditTest, NoHookWithoutAuditOrTool) {
  Collect audit;
  EXPECT_FALSE(AuditHook(nullptr, "u", "e", "t"));
  EXPECT_FALSE(AuditHook(&audit, "u", "e", ""));
  EXPECT_TRUE(audit.records.empty());
}

}  // namespace
}  // namespace switchboard::edge
