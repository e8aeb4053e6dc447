#include "switchboard/jsonrpc/message.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace switchboard::jsonrpc {
namespace {

Envelope MustScan(std::string_view text) {
  Envelope env;
  ScanError err;
  EXPECT_TRUE(Scan(text, &env, &err)) << err.message << " for " << text;
  return env;
}

ScanError MustFail(std::string_view text) {
  Envelope env;
  ScanError err;
  EXPECT_FALSE(Scan(text, &env, &err)) << text;
  return err;
}

TEST(ScanTest, Request) {
  std::string text = R"( {"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"a__b"}} )";
  Envelope env = MustScan(text);
  EXPECT_EQ(env.kind, Kind::kRequest);
  EXPECT_EQ(env.id.In(text), "7");
  EXPECT_EQ(env.method, "tools/call");
  EXPECT_EQ(env.params.In(text), R"({"name":"a__b"})");
}

TEST(ScanTest, StringIdAndEscapedMethod) {
  std::string text = R"({"method":"tools\/list","id":"x\"y","jsonrpc":"2.0"})";
  Envelope env = MustScan(text);
  EXPECT_EQ(env.method, "tools/list");
  EXPECT_EQ(env.id.In(text), R"("x\"y")");
}

TEST(ScanTest, NotificationAndResponses) {
  EXPECT_EQ(MustScan(R"({"jsonrpc":"2.0","method":"notifications/initialized"})").kind,
            Kind::kNotification);
  std::string ok = R"({"jsonrpc":"2.0","id":1,"result":{"tools":[]}})";
  Envelope r = MustScan(ok);
  EXPECT_EQ(r.kind, Kind::kResponse);
  EXPECT_EQ(r.result.In(ok), R"({"tools":[]})");
  std::string bad = R"({"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"x"}})";
  EXPECT_EQ(MustScan(bad).kind, Kind::kResponse);
}

TEST(ScanTest, MalformedJsonIsParseError) {
  for (std::string_view text :
       {"", "{", "garbage", R"({"jsonrpc":"2.0",})", R"({"a":01})", R"({"a":"\x"})", "{} {}",
        R"({"a":tru})", R"({"a":[1,]})", "\"unterminated", R"({"a":1e})", R"({'a':1})"}) {
    ScanError err = MustFail(text);
    EXPECT_EQ(err.code, kParseError) << text;
    EXPECT_EQ(err.raw_id, "null");
  }
}

TEST(ScanTest, DeepNestingIsRejectedNotCrashed) {
  std::string deep(100000, '[');
  EXPECT_EQ(MustFail(deep).code, kParseError);
}

TEST(ScanTest, ValidJsonButNotJsonRpcIsInvalidRequest) {
  EXPECT_EQ(MustFail("42").code, kInvalidRequest);
  EXPECT_EQ(MustFail("[]").code, kInvalidRequest);
  EXPECT_EQ(MustFail(R"({"id":1,"method":"x"})").code, kInvalidRequest);  // no jsonrpc
  ScanError e = MustFail(R"({"jsonrpc":"1.0","id":5,"method":"x"})");
  EXPECT_EQ(e.code, kInvalidRequest);
  EXPECT_EQ(e.raw_id, "5");
  EXPECT_EQ(MustFail(R"({"jsonrpc":"2.0","id":{},"method":"x"})").code, kInvalidRequest);
  EXPECT_EQ(MustFail(R"({"jsonrpc":"2.0","id":1,"method":3})").code, kInvalidRequest);
  EXPECT_EQ(MustFail(R"({"jsonrpc":"2.0","id":1,"method":"x","params":3})").code,
            kInvalidRequest);
  EXPECT_EQ(MustFail(R"({"jsonrpc":"2.0","id":1})").code, kInvalidRequest);
  EXPECT_EQ(MustFail(R"({"jsonrpc":"2.0","id":1,"result":1,"error":{}})").code, kInvalidRequest);
}

TEST(FindMemberTest, FindsNestedValues) {
  std::string text = R"({"name":"x","arguments":{"message":"hi"},"_meta":{"progressToken":3}})";
  auto meta = FindMember(text, {0, text.size()}, "_meta");
  ASSERT_TRUE(meta);
  auto token = FindMember(text, *meta, "progressToken");
  ASSERT_TRUE(token);
  EXPECT_EQ(token->In(text), "3");
  EXPECT_FALSE(FindMember(text, {0, text.size()}, "nope"));
  std::string escaped = R"({"na\u006de":"y"})";
  auto name = FindMember(escaped, {0, escaped.size()}, "name");
  ASSERT_TRUE(name);
  EXPECT_EQ(name->In(escaped), "\"y\"");
}

TEST(StringTest, RoundTripsThroughEncodeAndDecode) {
  std::string value = "tab\there \"quoted\" \\ nl\n ctrl\x01 ünï";
  std::string lit = EncodeString(value);
  EXPECT_TRUE(IsValidJson(lit));
  EXPECT_EQ(DecodeString(lit), value);
  EXPECT_EQ(DecodeString(R"("\u00e9\ud83d\ude00")"), "é😀");
  EXPECT_FALSE(DecodeString("12"));
}

TEST(BuildTest, MessagesAreValidJson) {
  std::string err = MakeError("\"a\"", kMethodNotFound, "Method not found: \"x\"");
  auto v = boost::json::parse(err).as_object();
  EXPECT_EQ(v["id"].as_string(), "a");
  EXPECT_EQ(v["error"].as_object()["code"].as_int64(), -32601);
  EXPECT_TRUE(boost::json::parse(MakeError("", kParseError, "Parse error")).as_object()["id"].is_null());
  auto with_data = boost::json::parse(MakeError("7", -32021, "x", R"({"requiredCapabilities":{}})"));
  EXPECT_TRUE(with_data.at("error").as_object().at("data").as_object().contains("requiredCapabilities"));
  EXPECT_TRUE(IsValidJson(MakeResult("1", "{}")));
  EXPECT_TRUE(IsValidJson(MakeRequest("2", "tools/list", "")));
  EXPECT_TRUE(IsValidJson(MakeNotification("notifications/initialized", "{}")));
}

TEST(ReplaceTest, RewritesIdInPlace) {
  std::string text = R"({"jsonrpc":"2.0","id":"client-1","method":"ping"})";
  Envelope env = MustScan(text);
  std::string out = Replace(text, env.id, "42");
  EXPECT_EQ(out, R"({"jsonrpc":"2.0","id":42,"method":"ping"})");
  std::string call = R"({"jsonrpc":"2.0","id":"c","method":"tools/call","params":{"name":"a__b","_meta":{"progressToken":"t"}}})";
  Envelope call_env = MustScan(call);
  auto name = FindMember(call, call_env.params, "name");
  auto token = FindProgressToken(call, call_env.params);
  ASSERT_TRUE(token);
  EXPECT_FALSE(FindProgressToken(call, Span{}));
  // Edits in any order, growing and shrinking, land in one pass.
  EXPECT_EQ(Replace(call, {{*token, "7"}, {call_env.id, "7"}, {*name, R"("b")"}}),
            R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"b","_meta":{"progressToken":7}}})");
  EXPECT_EQ(ParseUintId("42"), 42u);
  EXPECT_FALSE(ParseUintId("\"42\""));
  EXPECT_FALSE(ParseUintId("-1"));
  EXPECT_FALSE(ParseUintId(""));
}

}  // namespace
}  // namespace switchboard::jsonrpc
