#pragma once

#include "services/runner/src/server_catalog.h"
#include "switchboard/configwatch/config_cache.h"

namespace switchboard::runner {

// The production ServerCatalog: servers as the registry's Watch-fed cache currently has them.
// Unavailable until the first snapshot has arrived.
class ConfigCacheCatalog final : public ServerCatalog {
 public:
  // `cache` must outlive the catalog.
  explicit ConfigCacheCatalog(const configwatch::ConfigCache* cache) : cache_(cache) {}

  absl::StatusOr<ServerSpec> Find(std::string_view name) const override;
  std::vector<ServerSpec> List() const override;

 private:
  const configwatch::ConfigCache* cache_;
};

}  // namespace switchboard::runner
