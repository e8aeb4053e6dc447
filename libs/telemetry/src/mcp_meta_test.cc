#include "switchboard/telemetry/mcp_meta.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace switchboard::telemetry {
namespace {

jsonrpc::Envelope ScanOk(std::string_view text) {
  jsonrpc::Envelope env;
  jsonrpc::ScanError error;
  EXPECT_TRUE(jsonrpc::Scan(text, &env, &error)) << text;
  return env;
}

const TraceHeaders kHeaders{"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "rojo=1",
                            "user=a"};

boost::json::object MetaOf(const std::string& message) {
  return boost::json::parse(message).at("params").at("_meta").as_object();
}

TEST(McpMetaTest, ExtractsTheTraceFields) {
  std::string m =
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","_meta":{"traceparent":"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01","tracestate":"rojo=1","baggage":"user=a","progressToken":3}}})";
  TraceHeaders h = ExtractMeta(m, ScanOk(m));
  EXPECT_EQ(h.traceparent, kHeaders.traceparent);
  EXPECT_EQ(h.tracestate, "rojo=1");
  EXPECT_EQ(h.baggage, "user=a");
  std::string none = R"({"jsonrpc":"2.0","id":1,"method":"ping"})";
  EXPECT_TRUE(ExtractMeta(none, ScanOk(none)).empty());
}

TEST(McpMetaTest, InjectsIntoEveryShapeOfParams) {
  for (
      std::string m : {
          std::string(R"({"jsonrpc":"2.0","id":1,"method":"ping"})"),
          std::string(R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}})"),
          std::string(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x"}})"),
          std::string(R"({"jsonrpc":"2.0","id":1,"method":"t","params":{"_meta":{}}})"),
          std::string(R"({"jsonrpc":"2.0","id":1,"method":"t","params":{"_meta":null}})"),
          std::string(
              R"({"jsonrpc":"2.0","id":1,"method":"t","params":{"_meta":{"progressToken":7,"traceparent":"old"}}})"),
      }) {
    std::string out = InjectMeta(m, ScanOk(m), kHeaders);
    ScanOk(out);
    boost::json::object meta = MetaOf(out);
    EXPECT_EQ(meta.at("traceparent").as_string(), kHeaders.traceparent) << m;
    EXPECT_EQ(meta.at("tracestate").as_string(), "rojo=1") << m;
    EXPECT_EQ(meta.at("baggage").as_string(), "user=a") << m;
    // The rest of the message is kept.
    EXPECT_EQ(boost::json::parse(out).at("id").as_int64(), 1);
    if (m.find("progressToken") != std::string::npos) {
      EXPECT_EQ(meta.at("progressToken").as_int64(), 7);
    }
  }
}

TEST(McpMetaTest, LeavesResponsesAndArrayParamsAlone) {
  std::string response = R"({"jsonrpc":"2.0","id":1,"result":{}})";
  EXPECT_EQ(InjectMeta(response, ScanOk(response), kHeaders), response);
  std::string array = R"({"jsonrpc":"2.0","id":1,"method":"m","params":[1]})";
  EXPECT_EQ(InjectMeta(array, ScanOk(array), kHeaders), array);
  std::string plain = R"({"jsonrpc":"2.0","id":1,"method":"m"})";
  EXPECT_EQ(InjectMeta(plain, ScanOk(plain), TraceHeaders{}), plain);
}

TEST(McpMetaTest, ErrorCodeAndSessionHash) {
  std::string error = R"({"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"bad"}})";
  EXPECT_EQ(ErrorCodeOf(error, ScanOk(error)), -32602);
  std::string ok = R"({"jsonrpc":"2.0","id":1,"result":{}})";
  EXPECT_EQ(ErrorCodeOf(ok, ScanOk(ok)), 0);
  EXPECT_EQ(HashSessionId("abc").size(), 16u);
  EXPECT_NE(HashSessionId("abc"), HashSessionId("abd"));
  EXPECT_EQ(HashSessionId("abc").find("abc"), std::string::npos);
}

}  // namespace
}  // namespace switchboard::telemetry
