#include "switchboard/config/declarative.h"

#include <gtest/gtest.h>

namespace switchboard::config {
namespace {

constexpr char kDemo[] = R"(
servers:
  - name: everything
    type: STDIO
    command: npx
    args: ["-y", "@modelcontextprotocol/server-everything", "stdio"]
    env: {LOG_LEVEL: debug}
  - name: remote
    type: STREAMABLE_HTTP
    url: https://example.test/mcp
    bearerToken: secret
namespaces:
  - name: demo
    servers: [everything, {name: remote, active: false}]
endpoints:
  - name: demo
    namespace: demo
    enableApiKeyAuth: true
users:
  - email: dev@example.com
    name: Dev
)";

TEST(DeclarativeTest, ParsesMetaMcpVocabulary) {
  auto req = ParseDeclarative(kDemo);
  ASSERT_TRUE(req.ok()) << req.status();
  ASSERT_EQ(req->servers_size(), 2);
  EXPECT_EQ(req->servers(0).command(), "npx");
  EXPECT_EQ(req->servers(0).args_size(), 3);
  EXPECT_EQ(req->servers(0).env().at("LOG_LEVEL"), "debug");
  EXPECT_EQ(req->servers(1).bearer_token(), "secret");
  ASSERT_EQ(req->namespaces_size(), 1);
  EXPECT_EQ(req->namespaces(0).servers(1).server(), "remote");
  EXPECT_TRUE(req->namespaces(0).servers(1).disabled());
  EXPECT_TRUE(req->endpoints(0).enable_api_key_auth());
  EXPECT_EQ(req->users(0).email(), "dev@example.com");
}

TEST(DeclarativeTest, AcceptsProvisionBlockAndMcpServers) {
  auto req = ParseDeclarative(R"(
provision:
  enabled: true
  mcpServers:
    fs: {command: node, args: [fs.js]}
    web: {type: http, url: "http://127.0.0.1:9/mcp"}
)");
  ASSERT_TRUE(req.ok()) << req.status();
  ASSERT_EQ(req->servers_size(), 2);
  EXPECT_EQ(req->servers(0).name(), "fs");
  EXPECT_EQ(req->servers(0).type(), "STDIO");
  EXPECT_EQ(req->servers(1).type(), "STREAMABLE_HTTP");
}

struct BadCase {
  const char* yaml;
  const char* message;
};

// Names each case by its expected message, so ctest lists readable, stable test names.
void PrintTo(const BadCase& c, std::ostream* os) { *os << c.message; }

class DeclarativeErrorTest : public testing::TestWithParam<BadCase> {};

TEST_P(DeclarativeErrorTest, NamesTheField) {
  auto req = ParseDeclarative(GetParam().yaml);
  ASSERT_FALSE(req.ok());
  EXPECT_EQ(req.status().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, DeclarativeErrorTest,
    testing::Values(
        BadCase{"servers: [{name: a, type: FTP, command: x}]",
                "servers[0].type: must be one of STDIO, SSE, STREAMABLE_HTTP, got 'FTP'"},
        BadCase{"servers: [{name: a, type: STDIO}]", "servers[0].command: required for type STDIO"},
        BadCase{"servers: [{name: a, type: SSE, url: ftp://x}]",
                "servers[0].url: must start with http:// or https://"},
        BadCase{"servers: [{name: a__b, command: x}]",
                "servers[0].name: 'a__b' may not contain '__' (the tool prefix separator)"},
        BadCase{"servers: [{name: a, command: x, arg: [y]}]", "servers[0].arg: unknown field"},
        BadCase{"servers: [{name: a, command: x}, {name: a, command: y}]",
                "servers[1].name: duplicate server 'a'"},
        BadCase{"namespaces: [{name: n, servers: [ghost]}]",
                "namespaces[0].servers[0]: unknown server 'ghost'"},
        BadCase{"endpoints: [{name: e, namespace: nope}]",
                "endpoints[0].namespace: unknown namespace 'nope'"},
        BadCase{"endpoints: [{name: e, namespace: n, enableApiKeyAuth: maybe}]",
                "endpoints[0].enableApiKeyAuth: expected true or false, got 'maybe'"},
        BadCase{"users: [{email: nobody}]", "users[0].email: 'nobody' is not an email address"},
        BadCase{"servers: {a: 1}", "servers: expected a list"},
        BadCase{"sever: []", "switchboard.yaml.sever: unknown field"}));

TEST(ValidateObjectsTest, EndpointLimitsOriginsAndOverrides) {
  registry::v1::ApplyRequest req;
  auto* s = req.add_servers();
  s->set_name("a");
  s->set_type("STDIO");
  s->set_command("x");
  auto* ns = req.add_namespaces();
  ns->set_name("n");
  ns->add_servers()->set_server("a");
  auto* ep = req.add_endpoints();
  ep->set_name("e");
  ep->set_namespace_("n");
  ep->set_requests_per_minute(100);
  ep->add_allowed_origins("*");
  ep->add_allowed_origins("https://app.example.com:8443");
  EXPECT_TRUE(ValidateApply(req).ok()) << ValidateApply(req);
  ep->set_requests_per_minute(-5);
  EXPECT_EQ(ValidateApply(req).message(),
            "endpoints[0].requests_per_minute: must be 0 (unlimited) or more");
  ep->set_requests_per_minute(0);
  ep->add_allowed_origins("app.example.com");
  EXPECT_EQ(ValidateApply(req).message(),
            "endpoints[0].allowed_origins[2]: 'app.example.com' is not an origin: use \"*\" or "
            "scheme://host[:port] (no path)");

  auto find = [&](const std::string& name) -> const registry::v1::Namespace* {
    return name == "n" ? ns : nullptr;
  };
  registry::v1::ToolOverride o;
  o.set_namespace_("n");
  o.set_server("a");
  o.set_tool("echo");
  o.set_name("a.echo-2");
  o.set_annotations(R"({"destructiveHint": false})");
  EXPECT_TRUE(ValidateToolOverride(o, "o", find).ok());
  o.set_tool("");
  EXPECT_EQ(ValidateToolOverride(o, "o", find).message(), "o.tool: required");
  o.set_tool("echo");
  o.set_namespace_("m");
  EXPECT_EQ(ValidateToolOverride(o, "o", find).message(), "o.namespace: unknown namespace 'm'");
  o.set_namespace_("n");
  o.set_name(std::string(129, 'x'));
  EXPECT_EQ(ValidateToolOverride(o, "o", find).message().substr(0, 7), "o.name:");
  o.set_name("");
  o.set_annotations("not json");
  EXPECT_EQ(ValidateToolOverride(o, "o", find).message(), "o.annotations: must be a JSON object");
}

}  // namespace
}  // namespace switchboard::config
