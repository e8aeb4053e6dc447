#include "switchboard/common/log.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace switchboard::log {
namespace {

TEST(LogTest, FormatsOneJsonObjectWithFields) {
  Init("edge", Level::kInfo);
  std::string line = Format(Level::kWarn, "said \"hi\"\n", {{"n", 3}, {"ok", true}, {"who", "a"}});
  auto v = boost::json::parse(line).as_object();
  EXPECT_EQ(v["level"].as_string(), "warn");
  EXPECT_EQ(v["service"].as_string(), "edge");
  EXPECT_EQ(v["message"].as_string(), "said \"hi\"\n");
  EXPECT_TRUE(v["time"].is_string());
  EXPECT_FALSE(v.contains("msg"));
  EXPECT_FALSE(v.contains("ts"));
  EXPECT_EQ(v["n"].as_int64(), 3);
  EXPECT_EQ(v["ok"].as_bool(), true);
  EXPECT_EQ(v["who"].as_string(), "a");
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

TEST(LogTest, CarriesTheCurrentTraceAndSpan) {
  Init("edge", Level::kInfo);
  std::string trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  std::string span = "00f067aa0ba902b7";
  SetCurrentTraceIds(&trace, &span);
  auto v = boost::json::parse(Format(Level::kInfo, "hi", {})).as_object();
  EXPECT_EQ(v["trace_id"].as_string(), trace);
  EXPECT_EQ(v["span_id"].as_string(), span);
  // A line that names its own trace keeps it.
  v = boost::json::parse(Format(Level::kInfo, "hi", {{"trace_id", "abc"}})).as_object();
  EXPECT_EQ(v["trace_id"].as_string(), "abc");
  SetCurrentTraceIds(nullptr, nullptr);
  v = boost::json::parse(Format(Level::kInfo, "hi", {})).as_object();
  EXPECT_FALSE(v.contains("trace_id"));
  EXPECT_FALSE(v.contains("span_id"));
}

TEST(LogTest, CarriesTheCurrentEndpointAndUser) {
  Init("router", Level::kInfo);
  {
    ScopedRequest request("team", "dev@example.com");
    auto v = boost::json::parse(Format(Level::kInfo, "hi", {})).as_object();
    EXPECT_EQ(v["endpoint"].as_string(), "team");
    EXPECT_EQ(v["user"].as_string(), "dev@example.com");
    // A line that names its own endpoint keeps it.
    v = boost::json::parse(Format(Level::kInfo, "hi", {{"endpoint", "other"}})).as_object();
    EXPECT_EQ(v["endpoint"].as_string(), "other");
    {
      // An unknown user (a refused request) is left out, not written empty.
      ScopedRequest anonymous("team", "");
      v = boost::json::parse(Format(Level::kInfo, "hi", {})).as_object();
      EXPECT_EQ(v["endpoint"].as_string(), "team");
      EXPECT_FALSE(v.contains("user"));
    }
    v = boost::json::parse(Format(Level::kInfo, "hi", {})).as_object();
    EXPECT_EQ(v["user"].as_string(), "dev@example.com");
  }
  auto v = boost::json::parse(Format(Level::kInfo, "hi", {})).as_object();
  EXPECT_FALSE(v.contains("endpoint"));
  EXPECT_FALSE(v.contains("user"));
}

TEST(LogTest, ScopedContextSetsAllFourAndRestores) {
  Init("edge", Level::kInfo);
  std::string outer_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
  std::string outer_span = "00f067aa0ba902b7";
  SetCurrentTraceIds(&outer_trace, &outer_span);
  Context context;
  {
    ScopedContext scoped(&context);
    // Empty fields are left out, even over an outer trace.
    auto v = boost::json::parse(Format(Level::kInfo, "hi", {})).as_object();
    EXPECT_FALSE(v.contains("trace_id"));
    EXPECT_FALSE(v.contains("endpoint"));
    // Fields filled in while the context is current show up on the next line.
    context.trace_id = "0af7651916cd43dd8448eb211c80319c";
    context.span_id = "b7ad6b7169203331";
    context.endpoint = "demo";
    context.user = "u-1";
    v = boost::json::parse(Format(Level::kInfo, "hi", {})).as_object();
    EXPECT_EQ(v["trace_id"].as_string(), context.trace_id);
    EXPECT_EQ(v["span_id"].as_string(), context.span_id);
    EXPECT_EQ(v["endpoint"].as_string(), "demo");
    EXPECT_EQ(v["user"].as_string(), "u-1");
  }
  auto v = boost::json::parse(Format(Level::kInfo, "hi", {})).as_object();
  EXPECT_EQ(v["trace_id"].as_string(), outer_trace);
  EXPECT_FALSE(v.contains("user"));
  SetCurrentTraceIds(nullptr, nullptr);
}

TEST(LogTest, ParseLevel) {
  Level l;
  EXPECT_TRUE(ParseLevel("debug", &l));
  EXPECT_EQ(l, Level::kDebug);
  EXPECT_FALSE(ParseLevel("loud", &l));
}

}  // namespace
}  // namespace switchboard::log
