#include "services/registry/src/migrations.h"

#include <gtest/gtest.h>

#include "services/registry/src/embedded_migrations.h"
#include "switchboard/common/crypto.h"

namespace switchboard::registry {
namespace {

TEST(MigrationsTest, OrdersByVersionNotByInputOrder) {
  auto ordered = OrderMigrations(
      {{"0003_keys.sql", "c"}, {"0001_init.sql", "a"}, {"0002_more_tables.sql", "b"}});
  ASSERT_TRUE(ordered.ok()) << ordered.status();
  ASSERT_EQ(ordered->size(), 3u);
  EXPECT_EQ((*ordered)[0].version, 1);
  EXPECT_EQ((*ordered)[0].name, "init");
  EXPECT_EQ((*ordered)[1].name, "more_tables");
  EXPECT_EQ((*ordered)[2].filename, "0003_keys.sql");
  EXPECT_EQ((*ordered)[2].sql, "c");
  EXPECT_EQ((*ordered)[2].sha256, crypto::Sha256Hex("c"));
}

TEST(MigrationsTest, VersionsAreNumbersNotText) {
  auto ordered = OrderMigrations({{"0010_ten.sql", ""},
                                  {"0009_nine.sql", ""},
                                  {"0001_a.sql", ""},
                                  {"0002_b.sql", ""},
                                  {"0003_c.sql", ""},
                                  {"0004_d.sql", ""},
                                  {"0005_e.sql", ""},
                                  {"0006_f.sql", ""},
                                  {"0007_g.sql", ""},
                                  {"0008_h.sql", ""}});
  ASSERT_TRUE(ordered.ok()) << ordered.status();
  EXPECT_EQ(ordered->back().name, "ten");
  EXPECT_EQ((*ordered)[8].name, "nine");
}

TEST(MigrationsTest, EmptySetIsValid) {
  auto ordered = OrderMigrations({});
  ASSERT_TRUE(ordered.ok());
  EXPECT_TRUE(ordered->empty());
}

class BadMigrationNameTest : public testing::TestWithParam<const char*> {};

TEST_P(BadMigrationNameTest, IsRejectedNamingTheFile) {
  auto ordered = OrderMigrations({{GetParam(), "select 1"}});
  ASSERT_FALSE(ordered.ok());
  EXPECT_EQ(ordered.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(ordered.status().message().find(GetParam()), std::string::npos)
      << ordered.status().message();
}

INSTANTIATE_TEST_SUITE_P(Names, BadMigrationNameTest,
                         testing::Values("init.sql", "001_init.sql", "0001_init.txt", "0001_.sql",
                                         "0001-init.sql", "0001_Init.sql", "abcd_init.sql",
                                         "0001_init.sql.bak", ".sql"));

TEST(MigrationsTest, DuplicateVersionIsRejected) {
  auto ordered = OrderMigrations({{"0001_init.sql", ""}, {"0001_other.sql", ""}});
  ASSERT_FALSE(ordered.ok());
  EXPECT_NE(ordered.status().message().find("share version 1"), std::string::npos);
}

TEST(MigrationsTest, GapIsRejected) {
  auto ordered = OrderMigrations({{"0001_init.sql", ""}, {"0003_later.sql", ""}});
  ASSERT_FALSE(ordered.ok());
  EXPECT_EQ(ordered.status().message(),
            "migration '0003_later.sql' has version 3 but version 2 is missing");
}

TEST(MigrationsTest, MustStartAtOne) {
  auto ordered = OrderMigrations({{"0002_init.sql", ""}});
  ASSERT_FALSE(ordered.ok());
}

TEST(MigrationsTest, EmbeddedFilesFormAValidSequence) {
  std::vector<MigrationFile> files = EmbeddedMigrationFiles();
  ASSERT_FALSE(files.empty());
  auto ordered = OrderMigrations(files);
  ASSERT_TRUE(ordered.ok()) << ordered.status();
  EXPECT_EQ(ordered->front().filename, "0001_init.sql");
  EXPECT_NE(ordered->front().sql.find("CREATE TABLE servers"), std::string::npos);
  EXPECT_NE(ordered->front().sql.find("pg_notify('switchboard_config'"), std::string::npos);
}

}  // namespace
}  // namespace switchboard::registry
