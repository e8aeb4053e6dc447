#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <vector>

namespace switchboard::registry {

// One file of services/registry/migrations as compiled into the binary.
struct MigrationFile {
  std::string filename;  // "0001_init.sql"
  std::string sql;
};

// A migration ready to run: its version comes from the file name's leading digits.
struct Migration {
  int version = 0;
  std::string name;  // "init"
  std::string filename;
  std::string sql;
  std::string sha256;  // of `sql`, recorded so an edited migration is noticed
};

// Orders migration files by version. Names must be NNNN_name.sql (four or more digits, a
// name of [a-z0-9_]); versions must be unique and run 1, 2, 3... without gaps, so two
// branches that picked the same number, or a missing file, are caught at build-test time.
absl::StatusOr<std::vector<Migration>> OrderMigrations(const std::vector<MigrationFile>& files);

}  // namespace switchboard::registry
