#include "services/edge/src/stateless.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace switchboard::edge {
namespace {

namespace json = boost::json;

constexpr std::string_view kMeta =
    R"("_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",)"
    R"("io.modelcontextprotocol/clientCapabilities":{}})";

HttpRequest Stateless(std::string body, std::string method, std::string version = "2026-07-28") {
  HttpRequest r;
  r.method = "POST";
  r.path = "/metamcp/team/mcp";
  r.target = r.path;
  r.headers = {{"content-type", "application/json"},
               {"accept", "application/json, text/event-stream"},
               {"mcp-protocol-version", std::move(version)},
               {"mcp-method", std::move(method)}};
  r.body = std::move(body);
  return r;
}

std::string Call(std::string_view name) {
  return std::string(R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":")") +
         std::string(name) + R"(","arguments":{},)" + std::string(kMeta) + "}}";
}

McpPost Parsed(const HttpRequest& r) {
  auto v = ValidatePost(r, OriginPolicy());
  EXPECT_TRUE(std::holds_alternative<McpPost>(v));
  return std::get<McpPost>(v);
}

// The refusal's HTTP status, JSON-RPC code and id; {0,0,""} when the request may proceed.
struct Outcome {
  int status = 0;
  int64_t code = 0;
  std::string id;
};

Outcome Check(const HttpRequest& r) {
  McpPost post = Parsed(r);
  EXPECT_TRUE(IsStatelessPost(r, post));
  auto refusal = CheckStatelessPost(r, post);
  if (!refusal) return {};
  json::value body = json::parse(refusal->body);
  return {refusal->status, body.at("error").at("code").as_int64(),
          json::serialize(body.at("id"))};
}

TEST(StatelessTest, ClassifiesByVersionHeaderOrMeta) {
  HttpRequest with_header = Stateless(Call("a__b"), "tools/call");
  EXPECT_TRUE(IsStatelessPost(with_header, Parsed(with_header)));

  // A session-based version without _meta is the 2025 protocol (initialize comes first).
  HttpRequest session_based = Stateless(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{}})", "initialize", "2025-11-25");
  EXPECT_FALSE(IsStatelessPost(session_based, Parsed(session_based)));

  // _meta naming a version makes it stateless even with a session-based header.
  HttpRequest meta_only = Stateless(Call("a__b"), "tools/call", "2025-11-25");
  EXPECT_TRUE(IsStatelessPost(meta_only, Parsed(meta_only)));

  // With a session nothing is stateless.
  HttpRequest with_session = Stateless(Call("a__b"), "tools/call", "2025-11-25");
  with_session.headers.emplace_back("mcp-session-id", "s1");
  EXPECT_FALSE(IsStatelessPost(with_session, Parsed(with_session)));
}

TEST(StatelessTest, AWellFormedRequestProceeds) {
  HttpRequest r = Stateless(Call("a__b"), "tools/call");
  r.headers.emplace_back("mcp-name", "  a__b\t");  // optional whitespace is not part of it
  Outcome o = Check(r);
  EXPECT_EQ(o.status, 0);
}

TEST(StatelessTest, MissingMetaKeysAreInvalidParams) {
  Outcome none = Check(Stateless(
      R"({"jsonrpc":"2.0","id":101,"method":"server/discover","params":{}})", "server/discover"));
  EXPECT_EQ(none.status, 400);
  EXPECT_EQ(none.code, -32602);
  EXPECT_EQ(none.id, "101");
  Outcome no_caps = Check(Stateless(
      R"({"jsonrpc":"2.0","id":"x","method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}})",
      "server/discover"));
  EXPECT_EQ(no_caps.status, 400);
  EXPECT_EQ(no_caps.code, -32602);
  EXPECT_EQ(no_caps.id, R"("x")");
}

TEST(StatelessTest, VersionRules) {
  // Header and _meta disagree.
  Outcome mismatch = Check(Stateless(Call("a__b"), "tools/call", "2026-07-29"));
  EXPECT_EQ(mismatch.status, 400);
  EXPECT_EQ(mismatch.code, -32020);

  // Both name a version the edge does not speak: the error lists the ones it does.
  std::string body = Call("a__b");
  body.replace(body.find("2026-07-28"), 10, "v999.0.0");
  HttpRequest r = Stateless(body, "tools/call", "v999.0.0");
  r.headers.emplace_back("mcp-name", "a__b");
  McpPost post = Parsed(r);
  auto refusal = CheckStatelessPost(r, post);
  ASSERT_TRUE(refusal);
  EXPECT_EQ(refusal->status, 400);
  json::value v = json::parse(refusal->body);
  EXPECT_EQ(v.at("error").at("code").as_int64(), -32022);
  EXPECT_EQ(v.at("error").at("data").at("requested").as_string(), "v999.0.0");
  const json::array& supported = v.at("error").at("data").at("supported").as_array();
  EXPECT_NE(std::find(supported.begin(), supported.end(), json::value("2026-07-28")),
            supported.end());
}

TEST(StatelessTest, MethodAndNameHeadersMustMatchTheBody) {
  HttpRequest wrong_method = Stateless(Call("a__b"), "prompts/list");
  wrong_method.headers.emplace_back("mcp-name", "a__b");
  EXPECT_EQ(Check(wrong_method).code, -32020);

  HttpRequest case_differs = Stateless(Call("a__b"), "TOOLS/CALL");
  case_differs.headers.emplace_back("mcp-name", "a__b");
  EXPECT_EQ(Check(case_differs).status, 400);

  HttpRequest no_method = Stateless(Call("a__b"), "tools/call");
  std::erase_if(no_method.headers, [](const auto& h) { return h.first == "mcp-method"; });
  no_method.headers.emplace_back("mcp-name", "a__b");
  EXPECT_EQ(Check(no_method).code, -32020);

  HttpRequest wrong_name = Stateless(Call("a__b"), "tools/call");
  wrong_name.headers.emplace_back("mcp-name", "wrong_tool_name");
  EXPECT_EQ(Check(wrong_name).code, -32020);

  HttpRequest no_name = Stateless(Call("a__b"), "tools/call");
  Outcome o = Check(no_name);
  EXPECT_EQ(o.status, 400);
  EXPECT_EQ(o.code, -32020);
  EXPECT_EQ(o.id, "7");
}

TEST(StatelessTest, StatusOfTheFinalMessage) {
  EXPECT_EQ(StatelessStatus(R"({"jsonrpc":"2.0","id":1,"result":{}})"), 200);
  EXPECT_EQ(StatelessStatus(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"m"}})"),
            404);
  EXPECT_EQ(StatelessStatus(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32021,"message":"m"}})"),
            400);
  EXPECT_EQ(StatelessStatus(R"({"jsonrpc":"2.0","id":1,"error":{"code":-32603,"message":"m"}})"),
            200);
}

}  // namespace
}  // namespace switchboard::edge
