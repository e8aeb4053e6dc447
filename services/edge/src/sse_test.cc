#include "services/edge/src/sse.h"

#include <gtest/gtest.h>

#include "services/edge/src/request.h"

namespace switchboard::edge {
namespace {

TEST(SseFrameTest, NamesTheEventAndIdAndSplitsDataLines) {
  EXPECT_EQ(SseFrame("message", "17-0", R"({"a":1})"),
            "event: message\nid: 17-0\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(SseFrame("", "", "x"), "data: x\n\n");
  EXPECT_EQ(SseFrame("endpoint", "", "/metamcp/t/message?sessionId=ab"),
            "event: endpoint\ndata: /metamcp/t/message?sessionId=ab\n\n");
  EXPECT_EQ(SseFrame("message", "", "a\nb\r\nc\rd"),
            "event: message\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
  EXPECT_EQ(SseFrame("message", "", ""), "event: message\ndata: \n\n");
}

TEST(SseFrameTest, LineBreaksCannotEscapeTheIdOrEventField) {
  EXPECT_EQ(SseFrame("mess\nage", "1-\r\n0", "x"), "event: message\nid: 1-0\ndata: x\n\n");
}

TEST(SseFrameTest, SseEventIsAMessageWithoutId) {
  EXPECT_EQ(SseEvent("{}"), SseFrame("message", "", "{}"));
}

TEST(SsePrimingEventTest, CarriesIdRetryAndEmptyData) {
  EXPECT_EQ(SsePrimingEvent("1700000000000-3", std::chrono::milliseconds(2500)),
            "id: 1700000000000-3\nretry: 2500\ndata: \n\n");
  EXPECT_EQ(SseKeepAlive(), ":\n\n");
}

TEST(ParseLastEventIdTest, AcceptsStreamEntryIds) {
  EXPECT_EQ(ParseLastEventId("1700000000000-0"), "1700000000000-0");
  EXPECT_EQ(ParseLastEventId("0-0"), "0-0");
  EXPECT_EQ(ParseLastEventId("5-12"), "5-12");
  EXPECT_EQ(ParseLastEventId("18446744073709551615-18446744073709551615"),
            "18446744073709551615-18446744073709551615");
}

TEST(ParseLastEventIdTest, RefusesAnythingElse) {
  for (const char* bad : {"", "-", "1-", "-1", "17", "a-1", "1-b", "1-2-3", "1 -2", "(1-2", "1-2\n",
                          "+", "123456789012345678901-0"}) {
    EXPECT_FALSE(ParseLastEventId(bad).has_value()) << bad;
  }
}

TEST(RequestEventIdTest, RoundTripsAndRefusesOtherIds) {
  std::string id = FormatRequestEventId("0123456789abcdef", "1700000000000-3");
  EXPECT_EQ(id, "0123456789abcdef/1700000000000-3");
  auto parsed = ParseRequestEventId(id);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->token, "0123456789abcdef");
  EXPECT_EQ(parsed->entry, "1700000000000-3");
  for (const char* bad : {"1700000000000-3", "0123456789ABCDEF/1-2", "0123456789abcde/1-2",
                          "0123456789abcdef/", "0123456789abcdef/x-1", "/1-2"}) {
    EXPECT_FALSE(ParseRequestEventId(bad).has_value()) << bad;
  }
  // A session stream id is never taken for a request stream id, nor the reverse.
  EXPECT_FALSE(ParseLastEventId(id).has_value());
}

TEST(AcceptsEventStreamTest, Ranges) {
  EXPECT_TRUE(AcceptsEventStream("text/event-stream"));
  EXPECT_TRUE(AcceptsEventStream("application/json, text/event-stream;q=0.5"));
  EXPECT_TRUE(AcceptsEventStream("*/*"));
  EXPECT_TRUE(AcceptsEventStream("text/*"));
  EXPECT_TRUE(AcceptsEventStream(""));
  EXPECT_FALSE(AcceptsEventStream("application/json"));
  EXPECT_FALSE(AcceptsEventStream("text/event-stream;q=0, */*"));
  EXPECT_FALSE(AcceptsEventStream("text/html"));
}

TEST(QueryParamTest, DecodesAndEncodes) {
  EXPECT_EQ(QueryParam("sessionId=abc&api_key=k%2B1", "api_key"), "k+1");
  EXPECT_EQ(QueryParam("sessionId=abc", "sessionId"), "abc");
  EXPECT_FALSE(QueryParam("sessionIdx=abc", "sessionId").has_value());
  EXPECT_EQ(PercentEncode("a b+/=~._-Z9"), "a%20b%2B%2F%3D~._-Z9");
  EXPECT_EQ(QueryParam("k=" + PercentEncode("x&y=z%"), "k"), "x&y=z%");
}

}  // namespace
}  // namespace switchboard::edge
