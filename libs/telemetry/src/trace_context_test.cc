#include "switchboard/telemetry/trace_context.h"

#include <gtest/gtest.h>

namespace switchboard::telemetry {
namespace {

constexpr char kExample[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceparentTest, ParsesAndFormatsTheSpecificationExample) {
  auto context = ParseTraceparent(kExample);
  ASSERT_TRUE(context);
  EXPECT_EQ(ToHex(context->trace_id), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(ToHex(context->span_id), "00f067aa0ba902b7");
  EXPECT_TRUE(context->sampled());
  EXPECT_TRUE(context->remote);
  EXPECT_EQ(FormatTraceparent(*context), kExample);
}

TEST(TraceparentTest, RefusesMalformedHeaders) {
  for (const char* bad : {
           "",
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",       // no flags
           "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // uppercase
           "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace id
           "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero span id
           "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
           "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // v00 with extra
           "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01",
           "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
       }) {
    EXPECT_FALSE(ParseTraceparent(bad)) << bad;
  }
}

TEST(TraceparentTest, ReadsALaterVersionByItsFirstFields) {
  auto context =
      ParseTraceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-future-stuff");
  ASSERT_TRUE(context);
  EXPECT_FALSE(context->sampled());
  EXPECT_EQ(FormatTraceparent(*context), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
}

TEST(TracestateTest, ChecksMembers) {
  EXPECT_TRUE(IsValidTracestate(""));
  EXPECT_TRUE(IsValidTracestate("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"));
  EXPECT_TRUE(IsValidTracestate("tenant@vendor=x , other=y"));
  EXPECT_FALSE(IsValidTracestate("Rojo=1"));
  EXPECT_FALSE(IsValidTracestate("rojo"));
  EXPECT_FALSE(IsValidTracestate("rojo=a=b"));
  std::string many;
  for (int i = 0; i < 33; ++i) many += "k" + std::to_string(i) + "=v,";
  EXPECT_FALSE(IsValidTracestate(many));
}

TEST(ExtractTest, KeepsAValidTracestateOnly) {
  auto context = Extract({kExample, "rojo=1", ""});
  ASSERT_TRUE(context);
  EXPECT_EQ(context->trace_state, "rojo=1");
  context = Extract({kExample, "BAD", ""});
  ASSERT_TRUE(context);
  EXPECT_EQ(context->trace_state, "");
  EXPECT_FALSE(Extract({"", "rojo=1", ""}));
}

TEST(IdsTest, FreshIdsAreValidAndDiffer) {
  TraceId a = NewTraceId();
  TraceId b = NewTraceId();
  EXPECT_NE(a, b);
  SpanContext context{a, NewSpanId(), 1, "", false};
  EXPECT_TRUE(context.valid());
  EXPECT_EQ(ToHex(a).size(), 32u);
}

}  // namespace
}  // namespace switchboard::telemetry
