#include "services/runner/src/server_catalog.h"

#include "switchboard/common/strings.h"

namespace switchboard::runner {

void StaticServerCatalog::Put(ServerSpec spec) {
  std::lock_guard<std::mutex> lock(mu_);
  std::string name = spec.name;
  servers_.insert_or_assign(std::move(name), std::move(spec));
}

void StaticServerCatalog::Remove(std::string_view name) {
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = servers_.find(name); it != servers_.end()) servers_.erase(it);
}

absl::StatusOr<ServerSpec> StaticServerCatalog::Find(std::string_view name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = servers_.find(name);
  if (it == servers_.end()) return absl::NotFoundError(StrCat("unknown MCP server '", name, "'"));
  return it->second;
}

std::vector<ServerSpec> StaticServerCatalog::List() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<ServerSpec> out;
  for (const auto& [name, spec] : servers_) out.push_back(spec);
  return out;
}

}  // namespace switchboard::runner
