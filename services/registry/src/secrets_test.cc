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

}  // namespace
}  // namespace switchboard::registry
