#include "services/router/src/list_cursor.h"

#include <gtest/gtest.h>

namespace switchboard::router {
namespace {

TEST(ListCursorTest, Base64UrlRoundTrips) {
  for (std::string data : {"", "f", "fo", "foo", "foob", "fooba", "foobar", "\xff\xfe\x00?>"}) {
    std::string text = Base64UrlEncode(data);
    EXPECT_EQ(text.find_first_of("+/="), std::string::npos);
    EXPECT_EQ(Base64UrlDecode(text), data);
  }
  EXPECT_EQ(Base64UrlEncode("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64UrlDecode("Zm9v!"), std::nullopt);
}

TEST(ListCursorTest, RoundTripsAndRejectsTampering) {
  std::string cursor = EncodeListCursor("tools/list", {"beta", 7});
  auto position = DecodeListCursor("tools/list", cursor);
  ASSERT_TRUE(position.has_value());
  EXPECT_EQ(position->server, "beta");
  EXPECT_EQ(position->index, 7u);
  // The same position always gives the same cursor (any replica can continue a list).
  EXPECT_EQ(EncodeListCursor("tools/list", {"beta", 7}), cursor);
  // Made for another list, altered, or not ours at all.
  EXPECT_FALSE(DecodeListCursor("prompts/list", cursor));
  std::string text = *Base64UrlDecode(cursor);
  text.replace(text.find("7"), 1, "8");
  EXPECT_FALSE(DecodeListCursor("tools/list", Base64UrlEncode(text)));
  EXPECT_FALSE(DecodeListCursor("tools/list", "page2"));
  EXPECT_FALSE(DecodeListCursor("tools/list", ""));
  EXPECT_FALSE(DecodeListCursor("tools/list", Base64UrlEncode(R"({"s":"beta","i":-1,"c":"x"})")));
}

}  // namespace
}  // namespace switchboard::router
