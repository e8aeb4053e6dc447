#include "services/edge/src/request.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace switchboard::edge {
namespace {

namespace json = boost::json;

HttpRequest McpPostRequest(std::string body) {
  HttpRequest r;
  r.method = "POST";
  r.path = "/metamcp/team/mcp";
  r.target = r.path;
  r.headers = {{"content-type", "application/json"},
               {"accept", "application/json, text/event-stream"}};
  r.body = std::move(body);
  return r;
}

void SetHeader(HttpRequest* r, std::string name, std::string value) {
  for (auto& h : r->headers) {
    if (h.first == name) {
      h.second = std::move(value);
      return;
    }
  }
  r->headers.emplace_back(std::move(name), std::move(value));
}

const HttpResponse* Refusal(const std::variant<McpPost, HttpResponse>& v) {
  return std::get_if<HttpResponse>(&v);
}

constexpr std::string_view kCall =
    R"({"jsonrpc":"2.0","id":12,"method":"tools/call","params":{"name":"github__search","arguments":{}}})";

TEST(ClassifyPathTest, Routes) {
  EXPECT_EQ(ClassifyPath("/healthz").kind, RouteKind::kHealthz);
  EXPECT_EQ(ClassifyPath("/readyz").kind, RouteKind::kReadyz);
  Route mcp = ClassifyPath("/metamcp/my-team_1.x/mcp");
  EXPECT_EQ(mcp.kind, RouteKind::kMcp);
  EXPECT_EQ(mcp.endpoint, "my-team_1.x");
  Route sse = ClassifyPath("/metamcp/team/sse");
  EXPECT_EQ(sse.kind, RouteKind::kLegacySse);
  EXPECT_EQ(sse.endpoint, "team");
  Route message = ClassifyPath("/metamcp/team/message");
  EXPECT_EQ(message.kind, RouteKind::kLegacyMessage);
  EXPECT_EQ(message.endpoint, "team");
  Route metadata = ClassifyPath("/.well-known/oauth-protected-resource/metamcp/team/mcp");
  EXPECT_EQ(metadata.kind, RouteKind::kResourceMetadata);
  EXPECT_EQ(metadata.endpoint, "team");
  for (const char* path :
       {"/.well-known/oauth-protected-resource", "/.well-known/oauth-protected-resource/",
        "/.well-known/oauth-protected-resource/metamcp/team/sse",
        "/.well-known/oauth-protected-resource/metamcp/../mcp",
        "/.well-known/oauth-protected-resource/metamcp/team/mcp/"}) {
    EXPECT_EQ(ClassifyPath(path).kind, RouteKind::kNotFound) << path;
  }
  for (const char* path :
       {"/", "/metamcp/mcp", "/metamcp//mcp", "/metamcp/a/b/mcp", "/metamcp/../mcp",
        "/metamcp/a/mcp/", "/metamcp/a/sse/", "/metamcp/a/messages", "/metamcp/a%20b/mcp",
        "/healthz/", "/other/team/mcp"}) {
    EXPECT_EQ(ClassifyPath(path).kind, RouteKind::kNotFound) << path;
  }
}

TEST(ValidatePostTest, AcceptsAWellFormedRequest) {
  HttpRequest r = McpPostRequest(std::string(kCall));
  SetHeader(&r, "mcp-protocol-version", "2025-06-18");
  SetHeader(&r, "mcp-session-id", "abc123");
  auto v = ValidatePost(r, OriginPolicy());
  ASSERT_EQ(Refusal(v), nullptr);
  const McpPost& post = std::get<McpPost>(v);
  EXPECT_EQ(post.envelope.kind, jsonrpc::Kind::kRequest);
  EXPECT_EQ(post.envelope.method, "tools/call");
  EXPECT_EQ(post.raw_id, "12");
  EXPECT_EQ(post.tool, "github__search");
  EXPECT_EQ(post.protocol_version, "2025-06-18");
  EXPECT_EQ(post.session_id, "abc123");
}

TEST(ValidatePostTest, ReadsTheRequestedVersionOfInitialize) {
  auto v = ValidatePost(
      McpPostRequest(
          R"({"jsonrpc":"2.0","id":"i","method":"initialize","params":{"protocolVersion":"2025-03-26"}})"),
      OriginPolicy());
  ASSERT_EQ(Refusal(v), nullptr);
  EXPECT_EQ(std::get<McpPost>(v).requested_version, "2025-03-26");
  EXPECT_EQ(std::get<McpPost>(v).raw_id, "\"i\"");
}

TEST(ValidatePostTest, BadOriginIs403BeforeAnythingElse) {
  HttpRequest r = McpPostRequest("not json");
  SetHeader(&r, "content-type", "text/plain");
  SetHeader(&r, "origin", "https://attacker.example");
  auto v = ValidatePost(r, OriginPolicy());
  ASSERT_NE(Refusal(v), nullptr);
  EXPECT_EQ(Refusal(v)->status, 403);
}

TEST(ValidatePostTest, ContentTypeIsCheckedBeforeAccept) {
  HttpRequest r = McpPostRequest(std::string(kCall));
  SetHeader(&r, "content-type", "text/plain");
  SetHeader(&r, "accept", "text/html");
  auto v = ValidatePost(r, OriginPolicy());
  ASSERT_NE(Refusal(v), nullptr);
  EXPECT_EQ(Refusal(v)->status, 415);

  HttpRequest missing = McpPostRequest(std::string(kCall));
  missing.headers.erase(missing.headers.begin());
  EXPECT_EQ(Refusal(ValidatePost(missing, OriginPolicy()))->status, 415);
}

TEST(ValidatePostTest, AcceptIsCheckedBeforeTheBody) {
  HttpRequest r = McpPostRequest("not json");
  SetHeader(&r, "accept", "application/json");
  auto v = ValidatePost(r, OriginPolicy());
  ASSERT_NE(Refusal(v), nullptr);
  EXPECT_EQ(Refusal(v)->status, 406);
}

TEST(ValidatePostTest, MalformedJsonIs400ParseError) {
  auto v = ValidatePost(McpPostRequest(R"({"jsonrpc":"2.0","id":1,)"), OriginPolicy());
  ASSERT_NE(Refusal(v), nullptr);
  EXPECT_EQ(Refusal(v)->status, 400);
  auto body = json::parse(Refusal(v)->body).as_object();
  EXPECT_EQ(body.at("error").at("code").as_int64(), -32700);
  EXPECT_TRUE(body.at("id").is_null());
  EXPECT_EQ(Refusal(v)->Header("content-type"), "application/json");
}

TEST(ValidatePostTest, NonJsonRpcIs400InvalidRequestWithTheId) {
  auto v =
      ValidatePost(McpPostRequest(R"({"jsonrpc":"1.0","id":"x","method":"ping"})"), OriginPolicy());
  ASSERT_NE(Refusal(v), nullptr);
  EXPECT_EQ(Refusal(v)->status, 400);
  auto body = json::parse(Refusal(v)->body).as_object();
  EXPECT_EQ(body.at("error").at("code").as_int64(), -32600);
  EXPECT_EQ(body.at("id").as_string(), "x");

  for (const char* text :
       {R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])", "42", R"("s")", R"({"jsonrpc":"2.0"})"}) {
    auto w = ValidatePost(McpPostRequest(text), OriginPolicy());
    ASSERT_NE(Refusal(w), nullptr) << text;
    EXPECT_EQ(Refusal(w)->status, 400);
    EXPECT_EQ(json::parse(Refusal(w)->body).at("error").at("code").as_int64(), -32600) << text;
  }
}

TEST(ValidatePostTest, UnsupportedProtocolVersionIs400) {
  for (const char* version : {"2025-06-18", "2024-11-05", "2025-03-26", "2025-11-25"}) {
    HttpRequest r = McpPostRequest(std::string(kCall));
    SetHeader(&r, "mcp-protocol-version", version);
    EXPECT_EQ(Refusal(ValidatePost(r, OriginPolicy())), nullptr) << version;
  }
  // With a session the version must be a session-based one; without, the request may be a
  // stateless one (stateless_test.cc).
  for (const char* version : {"2026-07-28", "2025-06-19", "", "latest"}) {
    HttpRequest r = McpPostRequest(std::string(kCall));
    SetHeader(&r, "mcp-protocol-version", version);
    SetHeader(&r, "mcp-session-id", "s1");
    auto v = ValidatePost(r, OriginPolicy());
    ASSERT_NE(Refusal(v), nullptr) << version;
    EXPECT_EQ(Refusal(v)->status, 400);
    EXPECT_EQ(json::parse(Refusal(v)->body).at("id").as_int64(), 12);
  }
}

TEST(ValidatePostTest, MalformedSessionIdIs400) {
  HttpRequest r = McpPostRequest(std::string(kCall));
  SetHeader(&r, "mcp-session-id", "has space");
  auto v = ValidatePost(r, OriginPolicy());
  ASSERT_NE(Refusal(v), nullptr);
  EXPECT_EQ(Refusal(v)->status, 400);
}

TEST(ValidatePostTest, NotificationsAndResponsesHaveNoReplyId) {
  auto note = ValidatePost(
      McpPostRequest(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"), OriginPolicy());
  ASSERT_EQ(Refusal(note), nullptr);
  EXPECT_EQ(std::get<McpPost>(note).envelope.kind, jsonrpc::Kind::kNotification);
  EXPECT_EQ(std::get<McpPost>(note).raw_id, "null");
  auto response =
      ValidatePost(McpPostRequest(R"({"jsonrpc":"2.0","id":3,"result":{}})"), OriginPolicy());
  ASSERT_EQ(Refusal(response), nullptr);
  EXPECT_EQ(std::get<McpPost>(response).envelope.kind, jsonrpc::Kind::kResponse);
}

TEST(AcceptTest, NeedsBothTypesOrWildcards) {
  EXPECT_TRUE(AcceptsJsonAndEventStream("application/json, text/event-stream"));
  EXPECT_TRUE(AcceptsJsonAndEventStream("text/event-stream,application/json;q=0.9"));
  EXPECT_TRUE(AcceptsJsonAndEventStream("*/*"));
  EXPECT_TRUE(AcceptsJsonAndEventStream("application/json, */*;q=0.8"));
  EXPECT_TRUE(AcceptsJsonAndEventStream("application/*, text/*"));
  EXPECT_TRUE(AcceptsJsonAndEventStream("Application/JSON, Text/Event-Stream"));
  EXPECT_FALSE(AcceptsJsonAndEventStream("application/json"));
  EXPECT_FALSE(AcceptsJsonAndEventStream("text/event-stream"));
  EXPECT_FALSE(AcceptsJsonAndEventStream(""));
  EXPECT_FALSE(AcceptsJsonAndEventStream("text/html, application/xml"));
  EXPECT_FALSE(AcceptsJsonAndEventStream("*/*, text/event-stream;q=0"));
  EXPECT_FALSE(AcceptsJsonAndEventStream("application/json;q=0, text/event-stream"));
}

TEST(AcceptTest, RepeatedAcceptHeadersAreJoined) {
  HttpRequest r = McpPostRequest(std::string(kCall));
  r.headers = {{"content-type", "application/json"},
               {"accept", "application/json"},
               {"accept", "text/event-stream"}};
  EXPECT_EQ(Refusal(ValidatePost(r, OriginPolicy())), nullptr);
}

TEST(ContentTypeTest, JsonWithParameters) {
  EXPECT_TRUE(IsJsonContentType("application/json"));
  EXPECT_TRUE(IsJsonContentType("application/json; charset=utf-8"));
  EXPECT_TRUE(IsJsonContentType("Application/Json"));
  EXPECT_FALSE(IsJsonContentType("application/jsonx"));
  EXPECT_FALSE(IsJsonContentType("text/json"));
  EXPECT_FALSE(IsJsonContentType(""));
}

TEST(CredentialTest, BearerThenApiKeyThenQuery) {
  HttpRequest r;
  EXPECT_TRUE(ExtractCredential(r).value.empty());
  EXPECT_TRUE(ExtractCredential(r).source.empty());

  r.query = "api_key=q%2Bkey&x=1";
  EXPECT_EQ(ExtractCredential(r).value, "q+key");
  EXPECT_EQ(ExtractCredential(r).source, "query");

  r.headers.emplace_back("x-api-key", " sk-header ");
  EXPECT_EQ(ExtractCredential(r).value, "sk-header");
  EXPECT_EQ(ExtractCredential(r).source, "x-api-key");

  r.headers.emplace_back("authorization", "bearer tok.en");
  EXPECT_EQ(ExtractCredential(r).value, "tok.en");
  EXPECT_EQ(ExtractCredential(r).source, "authorization");
}

TEST(CredentialTest, NonBearerAuthorizationIsIgnored) {
  HttpRequest r;
  r.headers.emplace_back("authorization", "Basic dXNlcjpwdw==");
  EXPECT_TRUE(ExtractCredential(r).value.empty());
  r.headers.emplace_back("x-api-key", "k");
  EXPECT_EQ(ExtractCredential(r).source, "x-api-key");
}

TEST(SessionIdTest, VisibleAsciiOnly) {
  EXPECT_TRUE(IsValidSessionId("0f3a-_~!"));
  EXPECT_FALSE(IsValidSessionId(""));
  EXPECT_FALSE(IsValidSessionId("a b"));
  EXPECT_FALSE(IsValidSessionId("tab\t"));
  EXPECT_FALSE(IsValidSessionId("\xc3\xa9"));
  EXPECT_FALSE(IsValidSessionId(std::string(257, 'a')));
}

TEST(ResponsesTest, MethodNotAllowedCarriesAllow) {
  HttpResponse r = MethodNotAllowed("POST, DELETE");
  EXPECT_EQ(r.status, 405);
  EXPECT_EQ(r.Header("allow"), "POST, DELETE");
  EXPECT_EQ(Accepted().status, 202);
  EXPECT_TRUE(Accepted().body.empty());
}

TEST(SseEventTest, OneDataLinePerLine) {
  EXPECT_EQ(SseEvent(R"({"a":1})"), "event: message\ndata: {\"a\":1}\n\n");
  EXPECT_EQ(SseEvent("{\n\"a\":1\r\n}"), "event: message\ndata: {\ndata: \"a\":1\ndata: }\n\n");
}

}  // namespace
}  // namespace switchboard::edge
