#pragma once

#include <vector>

#include "services/registry/src/migrations.h"

namespace switchboard::registry {

// The migration files compiled into this binary at build time (generated from
// services/registry/migrations/*.sql by embed_migrations.cmake), sorted by file name.
std::vector<MigrationFile> EmbeddedMigrationFiles();

}  // namespace switchboard::registry
