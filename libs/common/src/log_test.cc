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
  EXPECT_EQ(v["msg"].as_string(), "said \"hi\"\n");
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

TEST(LogTest, ParseLevel) {
  Level l;
  EXPECT_TRUE(ParseLevel("debug", &l));
  EXPECT_EQ(l, Level::kDebug);
  EXPECT_FALSE(ParseLevel("loud", &l));
}

}  // namespace
}  // namespace switchboard::log
