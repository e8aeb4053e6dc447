#include "services/runner/src/config_cache_catalog.h"

#include "switchboard/common/strings.h"

namespace switchboard::runner {
namespace {

ServerSpec ToSpec(const registry::v1::Server& server) {
  ServerSpec spec;
  spec.name = server.name();
  spec.type = server.type();
  spec.command = server.command();
  spec.args.assign(server.args().begin(), server.args().end());
  spec.env.insert(server.env().begin(), server.env().end());
  PoolSettings& pool = spec.pool;
  pool.isolation = server.isolation();
  pool.min_processes = server.min_processes();
  pool.max_processes = server.max_processes();
  pool.max_in_flight = server.max_in_flight_per_process();
  pool.queue_size = server.queue_size();
  pool.queue_timeout_ms = server.queue_timeout_ms();
  pool.idle_timeout_ms = server.idle_timeout_ms();
  pool.request_timeout_ms = server.request_timeout_ms();
  pool.cwd = server.cwd();
  pool.limits.address_space_bytes = static_cast<uint64_t>(server.limit_address_space_mb()) << 20;
  pool.limits.cpu_seconds = static_cast<uint64_t>(server.limit_cpu_seconds());
  pool.limits.open_files = static_cast<uint64_t>(server.limit_open_files());
  pool.limits.processes = static_cast<uint64_t>(server.limit_processes());
  return spec;
}

}  // namespace

absl::StatusOr<ServerSpec> ConfigCacheCatalog::Find(std::string_view name) const {
  std::shared_ptr<const configwatch::ConfigView> view = cache_->Current();
  if (view == nullptr) {
    return absl::UnavailableError(
        "the runner has not received the configuration from the registry yet");
  }
  const registry::v1::Server* server = view->FindServer(name);
  if (server == nullptr) return absl::NotFoundError(StrCat("unknown MCP server '", name, "'"));
  return ToSpec(*server);
}

std::vector<ServerSpec> ConfigCacheCatalog::List() const {
  std::vector<ServerSpec> out;
  std::shared_ptr<const configwatch::ConfigView> view = cache_->Current();
  if (view == nullptr) return out;
  for (const auto& [name, server] : view->servers()) out.push_back(ToSpec(server));
  return out;
}

}  // namespace switchboard::runner
