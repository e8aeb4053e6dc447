#include "services/registry/src/postgres_url.h"

#include <gtest/gtest.h>

namespace switchboard::registry {
namespace {

TEST(PostgresUrlTest, RedactsUrlPassword) {
  EXPECT_EQ(RedactPostgresUrl("postgresql://sb:hunter2@db.example:5432/switchboard"),
            "postgresql://sb:***@db.example:5432/switchboard");
  EXPECT_EQ(RedactPostgresUrl("postgres://sb:p%40ss@[::1]:5432/x?sslmode=require"),
            "postgres://sb:***@[::1]:5432/x?sslmode=require");
}

TEST(PostgresUrlTest, LeavesUrlsWithoutPasswordAlone) {
  EXPECT_EQ(RedactPostgresUrl("postgresql://switchboard@127.0.0.1:5432/switchboard"),
            "postgresql://switchboard@127.0.0.1:5432/switchboard");
  EXPECT_EQ(RedactPostgresUrl("postgresql:///switchboard"), "postgresql:///switchboard");
}

TEST(PostgresUrlTest, RedactsQueryPassword) {
  EXPECT_EQ(RedactPostgresUrl("postgresql://h/db?user=a&password=s3cret&sslmode=disable"),
            "postgresql://h/db?user=a&password=***&sslmode=disable");
}

TEST(PostgresUrlTest, RedactsKeywordPassword) {
  EXPECT_EQ(RedactPostgresUrl("host=h user=u password=s3cret dbname=d"),
            "host=h user=u password=*** dbname=d");
  EXPECT_EQ(RedactPostgresUrl("host=h password = 'a b\\'c' dbname=d"),
            "host=h password = *** dbname=d");
  EXPECT_EQ(RedactPostgresUrl("host=h passwordfile=x"), "host=h passwordfile=x");
}

TEST(PostgresUrlTest, SanitizeRemovesPasswordAndNewlines) {
  std::string url = "postgresql://sb:p%40ss@h/db";
  EXPECT_EQ(SanitizeDbError("bad p@ss here\n\tand p%40ss there\n", url),
            "bad *** here and *** there");
  EXPECT_EQ(SanitizeDbError("no secret", "postgresql://h/db"), "no secret");
}

TEST(PostgresUrlTest, WithDatabaseSwapsOnlyTheDatabase) {
  EXPECT_EQ(*WithDatabase("postgresql://sb@127.0.0.1:25432/switchboard", "t1"),
            "postgresql://sb@127.0.0.1:25432/t1");
  EXPECT_EQ(*WithDatabase("postgresql://sb:pw@h/db?sslmode=disable", "t2"),
            "postgresql://sb:pw@h/t2?sslmode=disable");
  EXPECT_EQ(*WithDatabase("postgresql://h", "t3"), "postgresql://h/t3");
  EXPECT_FALSE(WithDatabase("host=h dbname=x", "t4").ok());
}

}  // namespace
}  // namespace switchboard::registry
