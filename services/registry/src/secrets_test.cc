#include "services/registry/src/secrets.h"

#include <gtest/gtest.h>

namespace switchboard::registry {
namespace {

TEST(SecretsTest, BlanksEnvBearerAndHeaderValues) {
  v1::Server s;
  s.set_name("remote");
  s.set_type("STREAMABLE_HTTP");
  s.set_command("");
  s.add_args("--verbose");
  s.set_url("https://example.test/mcp");
  s.set_bearer_token("tok");
  (*s.mutable_env())["API_KEY"] = "abc";
  (*s.mutable_env())["EMPTY"] = "";
  (*s.mutable_headers())["X-Auth"] = "xyz";
  BlankSecrets(&s);
  EXPECT_EQ(s.bearer_token(), "***");
  EXPECT_EQ(s.env().at("API_KEY"), "***");
  EXPECT_EQ(s.env().at("EMPTY"), "");
  EXPECT_EQ(s.headers().at("X-Auth"), "***");
  EXPECT_EQ(s.name(), "remote");
  EXPECT_EQ(s.url(), "https://example.test/mcp");
  EXPECT_EQ(s.args(0), "--verbose");
}

TEST(SecretsTest, EmptyBearerTokenStaysEmpty) {
  v1::Server s;
  BlankSecrets(&s);
  EXPECT_EQ(s.bearer_token(), "");
}

TEST(SecretsTest, BlanksTheServerInAChange) {
  v1::Change c;
  c.set_kind(v1::Change::SERVER);
  c.mutable_server()->set_bearer_token("tok");
  BlankSecrets(&c);
  EXPECT_EQ(c.server().bearer_token(), "***");

  v1::Change user;
  user.set_kind(v1::Change::USER);
  user.mutable_user()->set_email("a@b.c");
  BlankSecrets(&user);
  EXPECT_FALSE(user.has_server());
  EXPECT_EQ(user.user().email(), "a@b.c");
}

TEST(SecretsTest, RestoresBlankedSecretsFromTheStoredServer) {
  v1::Server stored;
  stored.set_bearer_token("tok");
  (*stored.mutable_env())["A"] = "a-secret";
  (*stored.mutable_headers())["H"] = "h-secret";
  v1::Server incoming = stored;
  BlankSecrets(&incoming);
  (*incoming.mutable_env())["B"] = "new";
  ASSERT_TRUE(RestoreBlankedSecrets(&incoming, &stored, "server").ok());
  EXPECT_EQ(incoming.bearer_token(), "tok");
  EXPECT_EQ(incoming.env().at("A"), "a-secret");
  EXPECT_EQ(incoming.env().at("B"), "new");
  EXPECT_EQ(incoming.headers().at("H"), "h-secret");

  v1::Server fresh;
  fresh.set_bearer_token("***");
  absl::Status status = RestoreBlankedSecrets(&fresh, nullptr, "server");
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(status.message(),
            "server.bearer_token: '***' keeps the stored value, but none is stored");
}

TEST(SecretsTest, RedactedJsonHidesSecretsAndKeyHashes) {
  v1::Change server;
  server.mutable_server()->set_name("s");
  server.mutable_server()->set_bearer_token("tok-secret");
  (*server.mutable_server()->mutable_env())["A"] = "env-secret";
  std::string json = RedactedJson(server);
  EXPECT_NE(json.find("\"name\":\"s\""), std::string::npos) << json;
  EXPECT_EQ(json.find("secret"), std::string::npos) << json;

  v1::Change key;
  key.mutable_api_key()->set_prefix("sk_sb_12");
  key.mutable_api_key()->set_key_sha256(std::string(64, 'f'));
  json = RedactedJson(key);
  EXPECT_NE(json.find("sk_sb_12"), std::string::npos) << json;
  EXPECT_EQ(json.find("ffff"), std::string::npos) << json;
  EXPECT_EQ(RedactedJson(v1::Change()), "");
}

}  // namespace
}  // namespace switchboard::registry
