#include "tools/sbctl/src/cli.h"

#include <gtest/gtest.h>

#include <ostream>

namespace switchboard::sbctl {
namespace {

using registry::v1::Change;

absl::StatusOr<Command> Parse(std::vector<std::string> args, const char* env = nullptr) {
  return ParseArgs(args, env);
}

TEST(CliTest, Apply) {
  auto c = Parse({"apply", "-f", "switchboard.yaml"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->verb, Verb::kApply);
  EXPECT_EQ(c->file, "switchboard.yaml");
  EXPECT_FALSE(c->dry_run);
  EXPECT_EQ(c->registry, "127.0.0.1:7103");

  c = Parse({"apply", "--dry-run", "--filename=sb.yaml"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_TRUE(c->dry_run);
  EXPECT_EQ(c->file, "sb.yaml");

  c = Parse({"apply", "-f", "-"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->file, "-");
}

TEST(CliTest, SessionsAndAudit) {
  auto c = Parse({"get", "sessions", "--user", "dev@example.com", "-o", "json"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->verb, Verb::kGetSessions);
  EXPECT_EQ(c->user_email, "dev@example.com");
  EXPECT_TRUE(c->json);

  c = Parse({"delete", "sessions", "--user", "dev@example.com"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->verb, Verb::kDeleteSessions);
  EXPECT_EQ(c->name, "");
  c = Parse({"delete", "session", "abc", "--user", "dev@example.com"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->name, "abc");

  EXPECT_EQ(Parse({"get", "sessions"}).status().message(),
            "usage: sbctl get sessions --user EMAIL [-o table|json|yaml]");
  EXPECT_FALSE(Parse({"delete", "sessions", "--user", "a@b.c", "-o", "json"}).ok());

  c = Parse({"audit", "--user", "dev@example.com", "--since", "1h", "--limit", "50"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->verb, Verb::kAudit);
  EXPECT_EQ(c->since_seconds, 3600);
  EXPECT_EQ(c->limit, 50);
  c = Parse({"audit"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->since_seconds, 0);
  EXPECT_EQ(Parse({"audit", "--since", "soon"}).status().message(),
            "--since: expected a duration such as 1h, 30m or 7d, got 'soon'");
  EXPECT_FALSE(Parse({"audit", "--limit", "0"}).ok());
  EXPECT_FALSE(Parse({"audit", "extra"}).ok());
}

TEST(CliTest, AdminTokenFlagOnAnyVerb) {
  auto c = Parse({"--admin-token", "tok-1", "get", "servers"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->admin_token, "tok-1");
  c = Parse({"runner", "ps", "--admin-token=tok-2"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->admin_token, "tok-2");
  EXPECT_TRUE(Parse({"get", "servers"})->admin_token.empty());
  EXPECT_FALSE(Parse({"get", "servers", "--admin-token"}).ok());
}

TEST(CliTest, RegistryFromFlagThenEnvironmentThenDefault) {
  EXPECT_EQ(Parse({"get", "servers"})->registry, "127.0.0.1:7103");
  EXPECT_EQ(Parse({"get", "servers"}, "reg.internal:7103")->registry, "reg.internal:7103");
  EXPECT_EQ(Parse({"get", "servers"}, "")->registry, "127.0.0.1:7103");
  EXPECT_EQ(Parse({"--registry", "10.0.0.2:9000", "get", "servers"}, "reg:1")->registry,
            "10.0.0.2:9000");
  EXPECT_EQ(Parse({"get", "servers", "--registry=[::1]:7103"})->registry, "[::1]:7103");
}

TEST(CliTest, Get) {
  auto c = Parse({"get", "namespaces"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->verb, Verb::kGet);
  EXPECT_EQ(c->kind, Change::NAMESPACE);
  EXPECT_EQ(Parse({"get", "servers"})->kind, Change::SERVER);
  EXPECT_EQ(Parse({"get", "endpoints"})->kind, Change::ENDPOINT);
  EXPECT_EQ(Parse({"get", "users"})->kind, Change::USER);
  EXPECT_TRUE(Parse({"get", "users", "-o", "json"})->json);
  EXPECT_FALSE(Parse({"get", "users", "-o", "table"})->json);
}

TEST(CliTest, CreateApiKey) {
  auto c = Parse({"create", "apikey", "--user", "dev@example.com", "--name", "laptop"});
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->verb, Verb::kCreateApiKey);
  EXPECT_EQ(c->user_email, "dev@example.com");
  EXPECT_EQ(c->key_name, "laptop");
  EXPECT_FALSE(c->json);
  c = Parse({"create", "apikey", "--user=dev@example.com", "-o", "json"});
  ASSERT_TRUE(c.ok());
  EXPECT_TRUE(c->json);
  EXPECT_EQ(c->key_name, "");
}

TEST(CliTest, Delete) {
  auto c = Parse({"delete", "server", "everything"});
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->verb, Verb::kDelete);
  EXPECT_EQ(c->kind, Change::SERVER);
  EXPECT_EQ(c->name, "everything");
  EXPECT_EQ(Parse({"delete", "namespace", "n"})->kind, Change::NAMESPACE);
  EXPECT_EQ(Parse({"delete", "endpoint", "e"})->kind, Change::ENDPOINT);
}

TEST(CliTest, Help) {
  EXPECT_EQ(Parse({"--help"})->verb, Verb::kHelp);
  EXPECT_EQ(Parse({"get", "-h"})->verb, Verb::kHelp);
  EXPECT_NE(Usage().find("sbctl apply -f FILE"), std::string::npos);
}

struct BadArgs {
  std::vector<std::string> args;
  const char* message;
};

// Names each case by its command line in test output.
void PrintTo(const BadArgs& bad, std::ostream* os) {
  *os << "sbctl";
  for (const std::string& arg : bad.args) *os << " " << arg;
}

class CliErrorTest : public testing::TestWithParam<BadArgs> {};

TEST_P(CliErrorTest, IsOneClearLine) {
  auto c = Parse(GetParam().args);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(), GetParam().message);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, CliErrorTest,
    testing::Values(
        BadArgs{{}, "no command given"}, BadArgs{{"frobnicate"}, "unknown command 'frobnicate'"},
        BadArgs{{"apply"}, "apply needs -f FILE"}, BadArgs{{"apply", "-f"}, "-f needs a value"},
        BadArgs{{"apply", "-f", "a", "-f", "b"}, "-f given twice"},
        BadArgs{{"apply", "-f", "a", "extra"}, "apply takes no arguments, got 'extra'"},
        BadArgs{{"get"}, "usage: sbctl get KIND [NAME] [-o table|json|yaml] (kinds: servers, namespaces, endpoints, users, tooloverrides, apikeys)"},
        BadArgs{{"get", "widgets"},
                "usage: sbctl get KIND [NAME] [-o table|json|yaml] (kinds: servers, namespaces, endpoints, users, tooloverrides, apikeys)"},
        BadArgs{{"get", "servers", "--dry-run"}, "--dry-run does not apply to 'get'"},
        BadArgs{{"get", "servers", "-o", "xml"}, "-o: unknown output format 'xml' for 'get'"},
        BadArgs{{"create", "apikey"}, "create apikey needs --user EMAIL"},
        BadArgs{{"create", "user", "--user", "a@b.c"},
                "usage: sbctl create apikey --user EMAIL [--name NAME] [--expires-in 90d] "
                "[--endpoints A,B]"},
        BadArgs{{"delete", "server"}, "usage: sbctl delete KIND NAME"},
        BadArgs{{"delete", "widget", "x"}, "usage: sbctl delete KIND NAME (kinds: servers, namespaces, endpoints, users, tooloverrides, apikeys)"},
        BadArgs{{"delete", "server", "x", "-o", "json"}, "-o does not apply to 'delete'"},
        BadArgs{{"get", "servers", "--verbose"}, "unknown flag '--verbose'"},
        BadArgs{{"--registry", "nowhere", "get", "servers"},
                "--registry: expected host:port, got 'nowhere'"}));

}  // namespace
}  // namespace switchboard::sbctl
