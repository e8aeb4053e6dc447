#include "switchboard/config/schema.h"

#include <gtest/gtest.h>

#include <map>

namespace switchboard::config {
namespace {

struct EdgeLike {
  std::string listen = "127.0.0.1:12008";
  int64_t threads = 0;
  bool verbose = false;
  std::vector<std::string> origins;
};

Schema MakeSchema(EdgeLike* c) {
  Schema s("edge");
  s.String("listen", &c->listen, CheckHostPort)
      .Int("threads", &c->threads, 0, 64)
      .Bool("verbose", &c->verbose)
      .StringList("allowed_origins", &c->origins);
  return s;
}

TEST(SchemaTest, LoadsYamlFields) {
  EdgeLike c;
  Schema s = MakeSchema(&c);
  ASSERT_TRUE(s.LoadYaml("listen: 0.0.0.0:80\nthreads: 4\nverbose: true\n"
                         "allowed_origins: [http://a, http://b]\n",
                         "edge.yaml")
                  .ok());
  EXPECT_EQ(c.listen, "0.0.0.0:80");
  EXPECT_EQ(c.threads, 4);
  EXPECT_TRUE(c.verbose);
  EXPECT_EQ(c.origins.size(), 2u);
}

TEST(SchemaTest, UnknownFieldIsNamed) {
  EdgeLike c;
  Schema s = MakeSchema(&c);
  absl::Status st = s.LoadYaml("listne: 1.2.3.4:5\n", "edge.yaml");
  EXPECT_EQ(st.message(), "edge.yaml: unknown field 'listne'");
}

TEST(SchemaTest, BadValuesNameTheField) {
  EdgeLike c;
  Schema s = MakeSchema(&c);
  EXPECT_EQ(s.LoadYaml("threads: many\n", "f").message(),
            "f: field 'threads': expected an integer, got 'many'");
  EXPECT_EQ(s.LoadYaml("threads: 100\n", "f").message(),
            "f: field 'threads': must be between 0 and 64, got 100");
  EXPECT_EQ(s.LoadYaml("listen: nowhere\n", "f").message(),
            "f: field 'listen': expected host:port, got 'nowhere'");
  EXPECT_EQ(s.LoadYaml("listen: a:99999\n", "f").message(),
            "f: field 'listen': port must be a number from 1 to 65535, got 'a:99999'");
  EXPECT_FALSE(s.LoadYaml("listen: [1, 2]\n", "f").ok());
  EXPECT_FALSE(s.LoadYaml("{{{", "f").ok());
  EXPECT_EQ(c.listen, "127.0.0.1:12008");  // a failed load keeps the default
}

TEST(SchemaTest, AdminTokenSha256IsEmptyOrSixtyFourLowercaseHexDigits) {
  EXPECT_TRUE(CheckAdminTokenSha256("").ok());
  EXPECT_TRUE(CheckAdminTokenSha256(std::string(64, 'a')).ok());
  EXPECT_TRUE(CheckAdminTokenSha256(std::string(32, '0') + std::string(32, 'f')).ok());
  EXPECT_EQ(CheckAdminTokenSha256(std::string(63, 'a')).message(),
            "must be the SHA-256 of the admin token: 64 lowercase hex digits");
  EXPECT_FALSE(CheckAdminTokenSha256(std::string(64, 'A')).ok());
  EXPECT_FALSE(CheckAdminTokenSha256(std::string(63, 'a') + "g").ok());
}

TEST(SchemaTest, EnvironmentOverridesFile) {
  EdgeLike c;
  Schema s = MakeSchema(&c);
  std::map<std::string, std::string> env = {{"SWITCHBOARD_EDGE_LISTEN", "[::1]:9000"},
                                            {"SWITCHBOARD_EDGE_ALLOWED_ORIGINS", "x, y"}};
  auto getenv = [&](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  };
  ASSERT_TRUE(s.LoadYaml("listen: 1.1.1.1:1\n", "f").ok());
  ASSERT_TRUE(s.LoadEnv(getenv).ok());
  EXPECT_EQ(c.listen, "[::1]:9000");
  EXPECT_EQ(c.origins, (std::vector<std::string>{"x", "y"}));
  env["SWITCHBOARD_EDGE_THREADS"] = "-1";
  EXPECT_EQ(s.LoadEnv(getenv).message(),
            "SWITCHBOARD_EDGE_THREADS: field 'threads': must be between 0 and 64, got -1");
}

}  // namespace
}  // namespace switchboard::config
