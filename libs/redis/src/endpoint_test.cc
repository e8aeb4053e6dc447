#include "switchboard/redis/endpoint.h"

#include <gtest/gtest.h>

namespace switchboard::redis {
namespace {

TEST(ParseRedisUrlTest, HostAndPortWithDefaults) {
  auto ep = ParseRedisUrl("redis://127.0.0.1:26379");
  ASSERT_TRUE(ep.ok()) << ep.status();
  EXPECT_EQ(ep->host, "127.0.0.1");
  EXPECT_EQ(ep->port, 26379);
  EXPECT_EQ(ep->db, 0);
  EXPECT_TRUE(ep->password.empty());
  EXPECT_TRUE(ep->username.empty());
}

TEST(ParseRedisUrlTest, DefaultPortAndDatabase) {
  auto ep = ParseRedisUrl("redis://cache.internal/3");
  ASSERT_TRUE(ep.ok()) << ep.status();
  EXPECT_EQ(ep->host, "cache.internal");
  EXPECT_EQ(ep->port, 6379);
  EXPECT_EQ(ep->db, 3);
  EXPECT_TRUE(ParseRedisUrl("redis://h/").ok());
  EXPECT_EQ(ParseRedisUrl("redis://h/")->db, 0);
}

TEST(ParseRedisUrlTest, PasswordOnlyAndUserWithPassword) {
  auto ep = ParseRedisUrl("redis://:s%40cret@localhost:6380/1");
  ASSERT_TRUE(ep.ok()) << ep.status();
  EXPECT_EQ(ep->password, "s@cret");
  EXPECT_TRUE(ep->username.empty());
  EXPECT_EQ(ep->port, 6380);
  EXPECT_EQ(ep->db, 1);

  auto with_user = ParseRedisUrl("redis://edge:pw@localhost");
  ASSERT_TRUE(with_user.ok()) << with_user.status();
  EXPECT_EQ(with_user->username, "edge");
  EXPECT_EQ(with_user->password, "pw");
}

TEST(ParseRedisUrlTest, Ipv6Host) {
  auto ep = ParseRedisUrl("redis://[::1]:7000");
  ASSERT_TRUE(ep.ok()) << ep.status();
  EXPECT_EQ(ep->host, "::1");
  EXPECT_EQ(ep->port, 7000);
  EXPECT_EQ(ep->Describe(), "[::1]:7000/0");
}

TEST(ParseRedisUrlTest, DescribeNeverShowsThePassword) {
  auto ep = ParseRedisUrl("redis://:hunter2@10.0.0.5:6379/2");
  ASSERT_TRUE(ep.ok());
  EXPECT_EQ(ep->Describe(), "10.0.0.5:6379/2");
}

TEST(ParseRedisUrlTest, RejectsBadUrlsWithoutEchoingThem) {
  for (const char* bad : {"", "127.0.0.1:6379", "http://localhost:6379", "rediss://localhost",
                          "redis://", "redis://host:0", "redis://host:65536", "redis://host:port",
                          "redis://host/x", "redis://host/1/2", "redis://host?db=1",
                          "redis://user@host", "redis://:topsecret@host:99999"}) {
    auto ep = ParseRedisUrl(bad);
    EXPECT_FALSE(ep.ok()) << bad;
    EXPECT_EQ(std::string(ep.status().message()).find("topsecret"), std::string::npos);
  }
}

TEST(HandshakeCommandsTest, AuthAndSelectOnlyWhenNeeded) {
  RedisEndpoint plain;
  size_t replies = 9;
  EXPECT_EQ(HandshakeCommands(plain, &replies), "");
  EXPECT_EQ(replies, 0u);
  RedisEndpoint full;
  full.username = "u";
  full.password = "p";
  full.db = 3;
  EXPECT_EQ(HandshakeCommands(full, &replies),
            "*3\r\n$4\r\nAUTH\r\n$1\r\nu\r\n$1\r\np\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n");
  EXPECT_EQ(replies, 2u);
  RedisEndpoint password_only;
  password_only.password = "p";
  EXPECT_EQ(HandshakeCommands(password_only, &replies), "*2\r\n$4\r\nAUTH\r\n$1\r\np\r\n");
  EXPECT_EQ(replies, 1u);
}

}  // namespace
}  // namespace switchboard::redis
