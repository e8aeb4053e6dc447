#include "services/runner/src/config_cache_catalog.h"

#include "switchboard/common/strings.h"

namespace switchboard::runner {

absl::StatusOr<ServerSpec> ConfigCacheCatalog::Find(std::string_view name) const {
  std::shared_ptr<const configwatch::ConfigView> view = cache_->Current();
  if (view == nullptr) {
    return absl::UnavailableError(
        "the runner has not received the configuration from the registry yet");
  }
  const registry::v1::Server* server = view->FindServer(name);
  if (server == nullptr) return absl::NotFoundError(StrCat("unknown MCP server '", name, "'"));
  ServerSpec spec;
  spec.name = server->name();
  spec.type = server->type();
  spec.command = server->command();
  spec.args.assign(server->args().begin(), server->args().end());
  spec.env.insert(server->env().begin(), server->env().end());
  return spec;
}

}  // namespace switchboard::runner
