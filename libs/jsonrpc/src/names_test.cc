#include "switchboard/jsonrpc/names.h"

#include <gtest/gtest.h>

namespace switchboard::jsonrpc {
namespace {

TEST(NamesTest, PrefixAndSplitRoundTrip) {
  EXPECT_EQ(PrefixedName("everything", "echo"), "everything__echo");
  std::string_view server, name;
  ASSERT_TRUE(SplitPrefixedName("everything__echo", &server, &name));
  EXPECT_EQ(server, "everything");
  EXPECT_EQ(name, "echo");
  // Tool names may themselves contain the separator; the server name never does.
  ASSERT_TRUE(SplitPrefixedName("gh__list__repos", &server, &name));
  EXPECT_EQ(server, "gh");
  EXPECT_EQ(name, "list__repos");
}

TEST(NamesTest, SplitRejectsUnprefixed) {
  std::string_view server, name;
  EXPECT_FALSE(SplitPrefixedName("echo", &server, &name));
  EXPECT_FALSE(SplitPrefixedName("__echo", &server, &name));
  EXPECT_FALSE(SplitPrefixedName("srv__", &server, &name));
}

TEST(NamesTest, ToolNameRules) {
  EXPECT_TRUE(IsValidToolName("a.b-c_d"));
  EXPECT_FALSE(IsValidToolName(""));
  EXPECT_FALSE(IsValidToolName("has space"));
  EXPECT_TRUE(IsValidToolName(std::string(128, 'a')));
  EXPECT_FALSE(IsValidToolName(std::string(129, 'a')));
}

}  // namespace
}  // namespace switchboard::jsonrpc
