#include "services/registry/src/test_database.h"

#include <cstdlib>
#include <pqxx/pqxx>

#include "services/registry/src/embedded_migrations.h"
#include "services/registry/src/pg_config_store.h"
#include "services/registry/src/postgres_url.h"
#include "switchboard/common/crypto.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"

// LeakSanitizer hook (used only in -DSB_SANITIZE=ON builds): libpqxx 6.4 leaks one PGresult
// when the BEGIN of a transaction meets a connection the server has just closed, which the
// reconnect tests do on purpose.
extern "C" const char* __lsan_default_suppressions() {
  return "leak:pqxx::dbtransaction::do_begin\n";
}

namespace switchboard::registry {

absl::StatusOr<std::unique_ptr<TestDatabase>> TestDatabase::Create() {
  const char* admin = std::getenv("SB_TEST_POSTGRES_URL");
  if (admin == nullptr || *admin == '\0') {
    return absl::FailedPreconditionError(
        "SB_TEST_POSTGRES_URL is not set: run these tests with `ctest -L db`, whose `backing` "
        "fixture starts a private Postgres and sets it");
  }
  std::string name = StrCat("sbtest_", crypto::RandomHex(8));
  absl::StatusOr<std::string> url = WithDatabase(admin, name);
  if (!url.ok()) return url.status();
  try {
    pqxx::connection conn(admin);
    pqxx::nontransaction tx(conn);
    tx.exec(StrCat("CREATE DATABASE ", tx.quote_name(name)));
  } catch (const std::exception& e) {
    return absl::UnavailableError(StrCat("cannot create test database on ",
                                         RedactPostgresUrl(admin), ": ",
                                         SanitizeDbError(e.what(), admin)));
  }
  return std::unique_ptr<TestDatabase>(new TestDatabase(admin, name, *url));
}

TestDatabase::TestDatabase(std::string admin_url, std::string name, std::string url)
    : admin_url_(std::move(admin_url)), name_(std::move(name)), url_(std::move(url)) {}

TestDatabase::~TestDatabase() {
  try {
    pqxx::connection conn(admin_url_);
    pqxx::nontransaction tx(conn);
    tx.exec(StrCat("DROP DATABASE IF EXISTS ", tx.quote_name(name_), " WITH (FORCE)"));
  } catch (const std::exception&) {
    // Best effort: a leftover sbtest_ database is harmless and the fixture's data dir is
    // discarded with the build tree.
  }
}

std::vector<std::vector<std::string>> TestDatabase::Query(const std::string& sql) const {
  pqxx::connection conn(url_);
  pqxx::work tx(conn);
  pqxx::result result = tx.exec(sql);
  tx.commit();
  std::vector<std::vector<std::string>> rows;
  for (const auto& row : result) {
    std::vector<std::string> columns;
    for (const auto& field : row) columns.push_back(field.is_null() ? "" : field.c_str());
    rows.push_back(std::move(columns));
  }
  return rows;
}

absl::Status TestDatabase::Migrate() const {
  SB_ASSIGN_OR_RETURN(std::vector<Migration> migrations, OrderMigrations(EmbeddedMigrationFiles()));
  return MigratePostgres(url_, migrations).status();
}

}  // namespace switchboard::registry
