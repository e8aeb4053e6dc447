#include "switchboard/config/declarative.h"

#include <google/protobuf/util/message_differencer.h>
#include <gtest/gtest.h>

#include <map>

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
  o.set_annotations("");
  o.set_user_requests_per_minute(-1);
  EXPECT_EQ(ValidateToolOverride(o, "o", find).message(),
            "o.user_requests_per_minute: must be 0 (unlimited) or more");
  o.set_user_requests_per_minute(0);
  EXPECT_TRUE(ValidateToolOverride(o, "o", find).ok());
}


// Looks variables up in a fixed map, like the environment of a test.
EnvLookup FakeEnv(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    auto it = vars.find(name);
    if (it == vars.end()) return std::nullopt;
    return it->second;
  };
}

TEST(EnvReferencesTest, ResolvedAnywhereInAnyStringValue) {
  auto req = ParseDeclarative(R"(
servers:
  - name: gh
    command: npx
    args: ["--token=${GITHUB_TOKEN}", "${A}${B}", "plain"]
    env: {TOKEN: "prefix-${GITHUB_TOKEN}-suffix", LITERAL: "$${NOT_A_VAR}"}
  - name: remote
    url: "https://${HOST}/mcp"
    bearerToken: ${GITHUB_TOKEN}
    headers: {X-Key: "${A}"}
)",
                              FakeEnv({{"GITHUB_TOKEN", "t0k"}, {"A", "a"}, {"B", ""}, {"HOST", "h.test"}}));
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->servers(0).args(0), "--token=t0k");
  EXPECT_EQ(req->servers(0).args(1), "a");
  EXPECT_EQ(req->servers(0).args(2), "plain");
  EXPECT_EQ(req->servers(0).env().at("TOKEN"), "prefix-t0k-suffix");
  EXPECT_EQ(req->servers(0).env().at("LITERAL"), "${NOT_A_VAR}");
  EXPECT_EQ(req->servers(1).url(), "https://h.test/mcp");
  EXPECT_EQ(req->servers(1).bearer_token(), "t0k");
  EXPECT_EQ(req->servers(1).headers().at("X-Key"), "a");
}

TEST(EnvReferencesTest, AMissingVariableIsAnErrorNamingFieldAndVariable) {
  constexpr char kYaml[] = R"(
provision:
  servers:
    - name: a
      command: x
    - name: gh
      command: npx
      env: {TOKEN: "${GITHUB_TOKEN}"}
)";
  auto req = ParseDeclarative(kYaml, FakeEnv({}));
  ASSERT_FALSE(req.ok());
  EXPECT_EQ(req.status().message(),
            "servers[1].env.TOKEN: environment variable GITHUB_TOKEN is not set");
  // An empty value is a value.
  EXPECT_TRUE(ParseDeclarative(kYaml, FakeEnv({{"GITHUB_TOKEN", ""}})).ok());
  // Without a lookup nothing is resolved.
  auto raw = ParseDeclarative(kYaml);
  ASSERT_TRUE(raw.ok()) << raw.status();
  EXPECT_EQ(raw->servers(1).env().at("TOKEN"), "${GITHUB_TOKEN}");
}

TEST(EnvReferencesTest, MalformedReferencesAreErrors) {
  auto env = FakeEnv({{"A", "a"}});
  EXPECT_EQ(ParseDeclarative("servers: [{name: a, command: \"x${A\"}]", env).status().message(),
            "servers[0].command: '${' without a closing '}' (write '$${' for a literal '${')");
  EXPECT_EQ(
      ParseDeclarative("servers: [{name: a, command: \"${A-B}\"}]", env).status().message(),
      "servers[0].command: '${A-B}' is not a variable reference: use ${NAME} with letters, "
      "digits and '_' (or '$${' for a literal '${')");
  // A lone '$' and '$$' without '{' stay as written.
  auto req = ParseDeclarative("servers: [{name: a, command: \"a$b$$c\"}]", env);
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_EQ(req->servers(0).command(), "a$b$$c");
}

TEST(DeclarativeTest, SwitchboardKeysToolOverridesAndEndpointLimits) {
  auto req = ParseDeclarative(R"(
servers: [{name: gh, command: npx}]
namespaces: [{name: dev, servers: [gh], prefix: false}]
endpoints:
  - name: dev
    namespace: dev
    userRequestsPerMinute: 60
    requestsPerMinute: 600
    allowedOrigins: ["https://app.example.com"]
toolOverrides:
  - namespace: dev
    server: gh
    tool: create_issue
    name: new_issue
    title: New issue
    annotations: '{"destructiveHint": false}'
  - {namespace: dev, server: gh, tool: delete_repo, disabled: true, userRequestsPerMinute: 5}
)");
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_TRUE(req->namespaces(0).disable_prefix());
  EXPECT_EQ(req->endpoints(0).user_requests_per_minute(), 60);
  EXPECT_EQ(req->endpoints(0).requests_per_minute(), 600);
  EXPECT_EQ(req->endpoints(0).allowed_origins(0), "https://app.example.com");
  ASSERT_EQ(req->tool_overrides_size(), 2);
  EXPECT_EQ(req->tool_overrides(0).name(), "new_issue");
  EXPECT_EQ(req->tool_overrides(0).annotations(), R"({"destructiveHint": false})");
  EXPECT_TRUE(req->tool_overrides(1).disabled());
  EXPECT_EQ(req->tool_overrides(0).user_requests_per_minute(), 0);
  EXPECT_EQ(req->tool_overrides(1).user_requests_per_minute(), 5);
}

TEST(DeclarativeTest, UserRoles) {
  auto req = ParseDeclarative(R"(
users:
  - {email: root@example.com, role: admin}
  - {email: dev@example.com, role: member}
  - {email: old@example.com, isAdmin: true}
  - {email: both@example.com, isAdmin: false, role: member}
)");
  ASSERT_TRUE(req.ok()) << req.status();
  EXPECT_TRUE(req->users(0).is_admin());
  EXPECT_FALSE(req->users(1).is_admin());
  EXPECT_TRUE(req->users(2).is_admin());
  EXPECT_FALSE(req->users(3).is_admin());
  EXPECT_EQ(ParseDeclarative("users: [{email: a@example.com, role: owner}]").status().message(),
            "users[0].role: must be admin or member, got 'owner'");
  EXPECT_EQ(ParseDeclarative("users: [{email: a@example.com, role: admin, isAdmin: false}]")
                .status()
                .message(),
            "users[0].role: contradicts isAdmin");
}

TEST(DeclarativeTest, EndpointOauthKeys) {
  auto req = ParseDeclarative(R"(
namespaces: [{name: dev, servers: []}]
endpoints:
  - name: dev
    namespace: dev
    enableApiKeyAuth: false
    enableOauth: true
    oauthIssuers: ["https://login.example.com"]
    oauthJwksUrl: https://login.example.com/jwks.json
    oauthRequiredScopes: [mcp, "files:read"]
    oauthAudience: api://switchboard
)");
  ASSERT_TRUE(req.ok()) << req.status();
  const auto& ep = req->endpoints(0);
  EXPECT_TRUE(ep.enable_oauth());
  ASSERT_EQ(ep.oauth_issuers_size(), 1);
  EXPECT_EQ(ep.oauth_issuers(0), "https://login.example.com");
  EXPECT_EQ(ep.oauth_jwks_url(), "https://login.example.com/jwks.json");
  ASSERT_EQ(ep.oauth_required_scopes_size(), 2);
  EXPECT_EQ(ep.oauth_required_scopes(1), "files:read");
  EXPECT_EQ(ep.oauth_audience(), "api://switchboard");
}

TEST(DeclarativeTest, EndpointOauthErrorsNameTheField) {
  const std::string head = "namespaces: [{name: dev, servers: []}]\nendpoints:\n  - ";
  struct Case {
    std::string endpoint;
    std::string error;
  } cases[] = {
      {"{name: e, namespace: dev, enableOauth: true, oauthJwksUrl: https://a.example/k}",
       "endpoints[0].oauth_issuers: required when enable_oauth is set"},
      {"{name: e, namespace: dev, enableOauth: true, oauthIssuers: [https://a.example]}",
       "endpoints[0].oauth_jwks_url: required when enable_oauth is set"},
      {"{name: e, namespace: dev, oauthIssuers: [https://a.example, ftp://b]}",
       "endpoints[0].oauth_issuers[1]: 'ftp://b' must be an https:// URL"},
      {"{name: e, namespace: dev, oauthJwksUrl: http://keys.example.com/jwks}",
       "endpoints[0].oauth_jwks_url: 'http://keys.example.com/jwks' must be an https:// URL "
       "(http:// only on loopback)"},
      {"{name: e, namespace: dev, oauthJwksUrl: https:///jwks}",
       "endpoints[0].oauth_jwks_url: 'https:///jwks' has no host"},
      {"{name: e, namespace: dev, oauthRequiredScopes: [ok, 'two words']}",
       "endpoints[0].oauth_required_scopes[1]: 'two words' is not a scope"},
  };
  for (const Case& c : cases) {
    auto req = ParseDeclarative(head + c.endpoint + "\n");
    ASSERT_FALSE(req.ok()) << c.endpoint;
    EXPECT_EQ(std::string(req.status().message()).substr(0, c.error.size()), c.error)
        << req.status();
  }
  // Plain http is for a local authorization server only.
  auto local = ParseDeclarative(head +
                                "{name: e, namespace: dev, enableOauth: true, oauthIssuers: "
                                "['http://127.0.0.1:9000'], oauthJwksUrl: "
                                "'http://localhost:9000/jwks'}\n");
  EXPECT_TRUE(local.ok()) << local.status();
}

TEST(DeclarativeTest, NamesOverTheLimitsAreErrorsNamingTheField) {
  std::string long_server(65, 's');
  auto req = ParseDeclarative("servers: [{name: " + long_server + ", command: x}]");
  EXPECT_EQ(req.status().message(), "servers[0].name: at most 64 characters");
  req = ParseDeclarative(R"(
servers: [{name: gh, command: npx}]
namespaces: [{name: dev, servers: [gh]}]
toolOverrides: [{namespace: dev, server: gh, tool: t, name: )" +
                         std::string(129, 'n') + "}]");
  ASSERT_FALSE(req.ok());
  EXPECT_EQ(req.status().message().substr(0, 23), "toolOverrides[0].name: ");
  req = ParseDeclarative(R"(
servers: [{name: gh, command: npx}]
namespaces: [{name: dev, servers: [gh]}]
toolOverrides:
  - {namespace: dev, server: gh, tool: a, name: same}
  - {namespace: dev, server: gh, tool: b, name: same}
)");
  EXPECT_EQ(req.status().message(),
            "toolOverrides[1].name: 'same' is already the new name of another tool in namespace "
            "'dev'");
  req = ParseDeclarative(R"(
servers: [{name: gh, command: npx}]
namespaces: [{name: dev, servers: [gh]}]
toolOverrides: [{namespace: other, server: gh, tool: a}]
)");
  EXPECT_EQ(req.status().message(), "toolOverrides[0].namespace: unknown namespace 'other'");
}

TEST(DeclarativeTest, McpServersUrlTypeFromTheUrlAndClientKeysIgnored) {
  auto req = ParseDeclarative(R"({"mcpServers": {
    "legacy": {"url": "https://x.test/sse"},
    "legacy2": {"url": "https://x.test/v1/sse/?k=1"},
    "modern": {"url": "https://x.test/mcp", "headers": {"Authorization": "Bearer t"}},
    "typed": {"type": "sse", "url": "https://x.test/events"},
    "local": {"command": "uvx", "args": ["mcp-server-git"], "env": {"A": "1"},
              "disabled": false, "autoApprove": []}}})");
  ASSERT_TRUE(req.ok()) << req.status();
  std::map<std::string, registry::v1::Server> by_name;
  for (const auto& s : req->servers()) by_name[s.name()] = s;
  EXPECT_EQ(by_name["legacy"].type(), "SSE");
  EXPECT_EQ(by_name["legacy2"].type(), "SSE");
  EXPECT_EQ(by_name["modern"].type(), "STREAMABLE_HTTP");
  EXPECT_EQ(by_name["modern"].headers().at("Authorization"), "Bearer t");
  EXPECT_EQ(by_name["typed"].type(), "SSE");
  EXPECT_EQ(by_name["local"].type(), "STDIO");
  EXPECT_EQ(by_name["local"].env().at("A"), "1");
}

TEST(DeclarativeFormatTest, ExportedDocumentParsesBackToTheSameConfiguration) {
  registry::v1::ApplyRequest config;
  auto* s = config.add_servers();
  s->set_name("odd");
  s->set_type("STDIO");
  s->set_command("run");
  for (const char* arg : {"", "true", "null", "~", "1.5", "-x", "${HOME}", "a: b", "#c", " pad ",
                          "multi\nline", "quote\"s", "$${x}", "yes"}) {
    s->add_args(arg);
  }
  (*s->mutable_env())["B"] = "2";
  (*s->mutable_env())["A"] = "***";
  auto* pooled = config.add_servers();
  pooled->set_name("pooled");
  pooled->set_type("STDIO");
  pooled->set_command("run");
  pooled->set_isolation("per-user");
  pooled->set_max_processes(7);
  pooled->set_max_in_flight_per_process(4);
  pooled->set_queue_size(50);
  pooled->set_queue_timeout_ms(1500);
  pooled->set_idle_timeout_ms(60000);
  pooled->set_request_timeout_ms(90000);
  pooled->set_cwd("/srv/mcp");
  pooled->set_limit_address_space_mb(2048);
  pooled->set_limit_cpu_seconds(600);
  pooled->set_limit_open_files(256);
  pooled->set_limit_processes(64);
  auto* warm = config.add_servers();
  warm->set_name("warm");
  warm->set_type("STDIO");
  warm->set_command("run");
  warm->set_min_processes(2);
  warm->set_max_processes(4);
  auto* r = config.add_servers();
  r->set_name("remote");
  r->set_type("SSE");
  r->set_url("https://x.test/sse");
  r->set_bearer_token("tok");
  (*r->mutable_headers())["X-Key"] = "k";
  auto* ns = config.add_namespaces();
  ns->set_name("n");
  ns->add_servers()->set_server("odd");
  auto* off = ns->add_servers();
  off->set_server("remote");
  off->set_disabled(true);
  auto* single = config.add_namespaces();
  single->set_name("single");
  single->add_servers()->set_server("odd");
  single->set_disable_prefix(true);
  auto* ep = config.add_endpoints();
  ep->set_name("e");
  ep->set_namespace_("n");
  ep->set_enable_api_key_auth(false);  // not the parser's default
  ep->set_requests_per_minute(5);
  ep->add_allowed_origins("*");
  auto* oauth = config.add_endpoints();
  oauth->set_name("o");
  oauth->set_namespace_("n");
  oauth->set_enable_oauth(true);
  oauth->add_oauth_issuers("https://login.example.com/");
  oauth->add_oauth_issuers("https://other.example.com");
  oauth->set_oauth_jwks_url("https://login.example.com/.well-known/jwks.json");
  oauth->add_oauth_required_scopes("mcp:tools");
  oauth->add_oauth_required_scopes("read");
  oauth->set_oauth_audience("https://mcp.example.com/metamcp/o/mcp");
  auto* u = config.add_users();
  u->set_email("dev@example.com");
  u->set_is_admin(true);
  auto* o = config.add_tool_overrides();
  o->set_namespace_("n");
  o->set_server("odd");
  o->set_tool("echo");
  o->set_annotations(R"({"readOnlyHint":true})");
  o->set_disabled(true);
  o->set_user_requests_per_minute(12);

  boost::json::object doc = DeclarativeDocument(config);
  for (const std::string& text : {ToYaml(doc), boost::json::serialize(doc)}) {
    auto back = ParseDeclarative(text, FakeEnv({{"HOME", "/home/x"}}));
    ASSERT_TRUE(back.ok()) << back.status() << "\n" << text;
    EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(*back, config))
        << text << "\n" << back->DebugString();
  }
}

TEST(DeclarativeTest, ServerPoolKeysAreReadAndChecked) {
  auto req = ParseDeclarative(R"(
servers:
  - name: gh
    command: npx
    isolation: per-session
    maxProcesses: 20
    maxInFlightPerProcess: 1
    queueSize: 10
    queueTimeoutMs: 500
    idleTimeoutMs: 1000
    requestTimeoutMs: 2000
    cwd: /tmp
    limitAddressSpaceMb: 4096
    limitCpuSeconds: 60
    limitOpenFiles: 128
    limitProcesses: 32
  - name: plain
    command: x
    isolation: shared
)");
  ASSERT_TRUE(req.ok()) << req.status();
  const registry::v1::Server& gh = req->servers(0);
  EXPECT_EQ(gh.isolation(), "per-session");
  EXPECT_EQ(gh.max_processes(), 20);
  EXPECT_EQ(gh.max_in_flight_per_process(), 1);
  EXPECT_EQ(gh.queue_size(), 10);
  EXPECT_EQ(gh.queue_timeout_ms(), 500);
  EXPECT_EQ(gh.idle_timeout_ms(), 1000);
  EXPECT_EQ(gh.request_timeout_ms(), 2000);
  EXPECT_EQ(gh.cwd(), "/tmp");
  EXPECT_EQ(gh.limit_address_space_mb(), 4096);
  EXPECT_EQ(gh.limit_cpu_seconds(), 60);
  EXPECT_EQ(gh.limit_open_files(), 128);
  EXPECT_EQ(gh.limit_processes(), 32);
  EXPECT_EQ(req->servers(1).isolation(), "");  // "shared" is the default, spelt ""

  struct Bad {
    const char* yaml;
    const char* error;
  };
  for (const Bad& bad : {
           Bad{"servers: [{name: a, command: x, isolation: per-tenant}]",
               "servers[0].isolation: must be one of shared, per-user, per-session, got "
               "'per-tenant'"},
           Bad{"servers: [{name: a, command: x, maxProcesses: -1}]",
               "servers[0].maxProcesses: must be between 0 (the runner's default) and 10000, "
               "got -1"},
           Bad{"servers: [{name: a, command: x, minProcesses: 3, maxProcesses: 2}]",
               "servers[0].minProcesses: must not exceed maxProcesses (2), got 3"},
           Bad{"servers: [{name: a, command: x, cwd: relative/dir}]",
               "servers[0].cwd: must be an absolute path"},
           Bad{"servers: [{name: a, command: x, isolation: per-user, minProcesses: 1}]",
               "servers[0].minProcesses: only applies to isolation shared (per-user and "
               "per-session processes start on first use)"},
           Bad{"servers: [{name: a, url: 'https://x.test/mcp', maxProcesses: 2}]",
               "servers[0]: process pool settings (isolation, minProcesses, ..., cwd, limit*) "
               "are only allowed for type STDIO"},
           Bad{"servers: [{name: a, command: x, queueSize: many}]",
               "servers[0].queueSize: expected a whole number, got 'many'"},
           Bad{"servers: [{name: a, command: x, queueSize: 3000000000}]",
               "servers[0].queueSize: expected a whole number, got '3000000000'"},
           Bad{"servers: [{name: a, command: x, limitOpenFiles: 1.5}]",
               "servers[0].limitOpenFiles: expected a whole number, got '1.5'"},
           Bad{"servers: [{name: a, command: x, limitCpuSeconds: 99999999999999999999}]",
               "servers[0].limitCpuSeconds: expected a whole number, got "
               "'99999999999999999999'"},
       }) {
    auto parsed = ParseDeclarative(bad.yaml);
    ASSERT_FALSE(parsed.ok()) << bad.yaml;
    EXPECT_EQ(parsed.status().message(), bad.error) << bad.yaml;
  }
}

}  // namespace
}  // namespace switchboard::config
