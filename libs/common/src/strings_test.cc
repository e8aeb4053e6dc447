#include "switchboard/common/strings.h"

#include <gtest/gtest.h>

namespace switchboard {
namespace {

TEST(StringsTest, TrimBlanksTakesSpacesAndTabsOnly) {
  EXPECT_EQ(TrimBlanks(" \t a b \t"), "a b");
  EXPECT_EQ(TrimBlanks("\nx\n"), "\nx\n");
  EXPECT_EQ(TrimBlanks("  "), "");
}

TEST(StringsTest, SplitListTrimsAndDropsEmptyItems) {
  EXPECT_EQ(SplitList("PATH, HOME,,\tLANG "), (std::vector<std::string>{"PATH", "HOME", "LANG"}));
  EXPECT_EQ(SplitList("a;b", ';'), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(SplitList("").empty());
  EXPECT_TRUE(SplitList(" , ").empty());
}

}  // namespace
}  // namespace switchboard
