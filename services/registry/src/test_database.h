#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <memory>
#include <string>
#include <vector>

namespace switchboard::registry {

// A fresh, empty database (sbtest_<random>) on the tests' Postgres, named by the
// SB_TEST_POSTGRES_URL environment variable (set by ctest's `backing` fixture), dropped again
// when this object goes away. Tests never see each other's data.
class TestDatabase {
 public:
  // FailedPrecondition when SB_TEST_POSTGRES_URL is unset: these tests must run through ctest
  // (ctest -L db), never silently skip.
  static absl::StatusOr<std::unique_ptr<TestDatabase>> Create();
  ~TestDatabase();

  TestDatabase(const TestDatabase&) = delete;
  TestDatabase& operator=(const TestDatabase&) = delete;

  // The URL of this database.
  const std::string& url() const { return url_; }

  // Runs SQL outside any registry code (as someone at a psql prompt would) and returns every
  // row's columns as text ("" for NULL). Throws on SQL errors, failing the test.
  std::vector<std::vector<std::string>> Query(const std::string& sql) const;

  // Brings this database to the current schema with the migrations compiled into the binary.
  absl::Status Migrate() const;

 private:
  TestDatabase(std::string admin_url, std::string name, std::string url);

  std::string admin_url_;
  std::string name_;
  std::string url_;
};

}  // namespace switchboard::registry
