#include "services/router/src/stateless.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace switchboard::router {
namespace {

namespace json = boost::json;

jsonrpc::Span ParamsOf(std::string_view message) {
  jsonrpc::Envelope env;
  jsonrpc::ScanError err;
  EXPECT_TRUE(jsonrpc::Scan(message, &env, &err));
  return env.params;
}

TEST(StatelessClientTest, ReadsCapabilitiesAndLogLevel) {
  std::string m =
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{)"
      R"("io.modelcontextprotocol/clientCapabilities":{"sampling":{},"roots":{"listChanged":true}},)"
      R"("io.modelcontextprotocol/logLevel":"warning"}}})";
  StatelessClient c = ReadStatelessClient(m, ParamsOf(m));
  EXPECT_TRUE(c.sampling);
  EXPECT_FALSE(c.elicitation);
  EXPECT_TRUE(c.roots);
  EXPECT_EQ(c.log_level, LogLevelRank("warning"));
  EXPECT_TRUE(Declares(c, "sampling/createMessage"));
  EXPECT_FALSE(Declares(c, "elicitation/create"));

  std::string bare = R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})";
  StatelessClient none = ReadStatelessClient(bare, ParamsOf(bare));
  EXPECT_FALSE(none.sampling);
  EXPECT_EQ(none.log_level, -1);
}

TEST(StatelessClientTest, LevelsAreOrdered) {
  EXPECT_LT(LogLevelRank("debug"), LogLevelRank("info"));
  EXPECT_LT(LogLevelRank("error"), LogLevelRank("emergency"));
  EXPECT_EQ(LogLevelRank("loud"), -1);
}

TEST(MarkCompleteTest, AddsResultTypeAndCacheHints) {
  json::value list = json::parse(
      MarkComplete(R"({"jsonrpc":"2.0","id":3,"result":{"tools":[]}})", "tools/list"));
  EXPECT_EQ(list.at("result").at("resultType").as_string(), "complete");
  EXPECT_EQ(list.at("result").at("ttlMs").as_int64(), 0);
  EXPECT_EQ(list.at("result").at("cacheScope").as_string(), "private");
  EXPECT_TRUE(list.at("result").at("tools").is_array());

  json::value call = json::parse(MarkComplete(R"({"jsonrpc":"2.0","id":3,"result":{ }})", "tools/call"));
  EXPECT_EQ(call.at("result").at("resultType").as_string(), "complete");
  EXPECT_FALSE(call.at("result").as_object().contains("ttlMs"));

  // An upstream that already speaks the version keeps its own values.
  json::value own = json::parse(MarkComplete(
      R"({"jsonrpc":"2.0","id":3,"result":{"ttlMs":500,"resultType":"complete"}})", "tools/list"));
  EXPECT_EQ(own.at("result").at("ttlMs").as_int64(), 500);

  std::string error = R"({"jsonrpc":"2.0","id":3,"error":{"code":-32601,"message":"m"}})";
  EXPECT_EQ(MarkComplete(error, "tools/list"), error);
}

TEST(InputRequiredTest, CarriesTheQuestionAndTheState) {
  json::value v = json::parse(InputRequired("9", "sbr-1", "sampling/createMessage",
                                            R"({"maxTokens":5})", "sbm-1-ab"));
  const json::value& r = v.at("result");
  EXPECT_EQ(r.at("resultType").as_string(), "input_required");
  EXPECT_EQ(r.at("inputRequests").at("sbr-1").at("method").as_string(), "sampling/createMessage");
  EXPECT_EQ(r.at("inputRequests").at("sbr-1").at("params").at("maxTokens").as_int64(), 5);
  EXPECT_EQ(r.at("requestState").as_string(), "sbm-1-ab");
}

TEST(RemovedMethodsTest, SessionMethodsAreGone) {
  for (const char* m : {"initialize", "ping", "logging/setLevel", "resources/subscribe",
                        "resources/unsubscribe"}) {
    EXPECT_TRUE(IsRemovedInStateless(m)) << m;
  }
  EXPECT_FALSE(IsRemovedInStateless("tools/call"));
}

}  // namespace
}  // namespace switchboard::router
