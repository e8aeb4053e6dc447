// sb-runner: the STDIO process pool. Spawns, initializes, multiplexes and restarts the MCP
// servers that the registry defines with type STDIO, behind the runner.v1.Runner gRPC API.
#include <cstdio>
#include <memory>
#include <string>

#include "services/runner/src/config_cache_catalog.h"
#include "services/runner/src/process_launcher.h"
#include "services/runner/src/runner_grpc.h"
#include "services/runner/src/runner_wire.h"
#include "services/runner/src/runner_service.h"
#include "services/runner/src/runner_telemetry.h"
#include "switchboard/common/log.h"
#include "switchboard/common/signals.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include "switchboard/config/schema.h"
#include "switchboard/configwatch/admin_caller.h"
#include "switchboard/configwatch/config_cache.h"
#include "switchboard/configwatch/revision_metric.h"
#include "switchboard/grpcutil/server.h"
#include "switchboard/telemetry/metrics.h"
#include "switchboard/telemetry/tracer.h"

namespace {

struct RunnerConfig {
  std::string listen = "127.0.0.1:7102";
  std::string wire_listen = "127.0.0.1:9102";  // the routers' attachments over wire; empty: none
  std::string registry_address = "127.0.0.1:7103";
  int64_t init_timeout_ms = 60000;
  int64_t max_line_bytes = int64_t{16} * 1024 * 1024;
  int64_t stop_grace_ms = 2000;
  int64_t max_processes = 256;
  std::string pass_env;  // comma-separated; empty = the default list
  int64_t limit_address_space_mb = 0;
  int64_t limit_cpu_seconds = 0;
  int64_t limit_open_files = 0;
  int64_t limit_processes = 0;
  int64_t idle_timeout_ms = 600000;
  int64_t max_concurrent_starts = 8;
  int64_t breaker_failures = 5;
  int64_t breaker_cooldown_ms = 30000;
  std::string log_level = "info";
  // The admin calls (runner ps / restart, logs) need the admin token whose SHA-256 this is, or an
  // admin user's API key; empty: admin users' keys only.
  std::string admin_token_sha256;
  std::string admin_token;  // or the token itself (from a secret): hashed at start-up
  std::string service_token;   // sent on the registry's Watch; from a secret, never logged
  std::string metrics_listen;  // GET /metrics; empty: none
};

}  // namespace

int main(int argc, char** argv) {
  using namespace switchboard;
  BlockTerminationSignals();
  RunnerConfig cfg;
  config::Schema schema("runner");
  schema.String("listen", &cfg.listen, config::CheckHostPort)
      .String("wire_listen", &cfg.wire_listen, config::CheckOptionalHostPort)
      .String("registry_address", &cfg.registry_address, config::CheckHostPort)
      .Int("init_timeout_ms", &cfg.init_timeout_ms, 100, int64_t{3600} * 1000)
      .Int("max_line_bytes", &cfg.max_line_bytes, 1024, int64_t{1} << 30)
      .Int("stop_grace_ms", &cfg.stop_grace_ms, 0, int64_t{600} * 1000)
      .Int("max_processes", &cfg.max_processes, 0, 100000)
      .String("pass_env", &cfg.pass_env)
      .Int("limit_address_space_mb", &cfg.limit_address_space_mb, 0, int64_t{1} << 30)
      .Int("limit_cpu_seconds", &cfg.limit_cpu_seconds, 0, int64_t{1} << 40)
      .Int("limit_open_files", &cfg.limit_open_files, 0, int64_t{1} << 30)
      .Int("limit_processes", &cfg.limit_processes, 0, int64_t{1} << 30)
      .Int("idle_timeout_ms", &cfg.idle_timeout_ms, 0, int64_t{7} * 24 * 3600 * 1000)
      .Int("max_concurrent_starts", &cfg.max_concurrent_starts, 1, 10000)
      .Int("breaker_failures", &cfg.breaker_failures, 0, 1000)
      .Int("breaker_cooldown_ms", &cfg.breaker_cooldown_ms, 100, int64_t{24} * 3600 * 1000)
      .String("log_level", &cfg.log_level, config::CheckLogLevel)
      .String("admin_token_sha256", &cfg.admin_token_sha256,
              configwatch::CheckAdminTokenSha256)
      .String("admin_token", &cfg.admin_token)
      .String("service_token", &cfg.service_token)
      .String("metrics_listen", &cfg.metrics_listen, config::CheckOptionalHostPort);
  config::LoadOrExit(schema, "sb-runner", argc, argv);
  if (absl::Status token = configwatch::HashAdminToken(&cfg.admin_token, &cfg.admin_token_sha256);
      !token.ok()) {
    ExitWithError("sb-runner", MessageOf(token));
  }
  log::Init("runner", cfg.log_level);
  telemetry::ConfigureTracingOrExit("sb-runner");

  configwatch::ConfigCache cache(grpcutil::MakeChannel(cfg.registry_address), "runner",
                                 cfg.service_token);
  runner::ConfigCacheCatalog catalog(&cache);
  runner::LauncherOptions launch;
  if (!cfg.pass_env.empty()) launch.pass_env = SplitList(cfg.pass_env);
  launch.limits.address_space_bytes = static_cast<uint64_t>(cfg.limit_address_space_mb) << 20;
  launch.limits.cpu_seconds = static_cast<uint64_t>(cfg.limit_cpu_seconds);
  launch.limits.open_files = static_cast<uint64_t>(cfg.limit_open_files);
  launch.limits.processes = static_cast<uint64_t>(cfg.limit_processes);
  runner::ForkExecLauncher launcher(std::move(launch));
  runner::RunnerOptions options;
  options.init_timeout_ms = cfg.init_timeout_ms;
  options.max_line_bytes = cfg.max_line_bytes;
  options.stop_grace_ms = cfg.stop_grace_ms;
  options.max_processes = cfg.max_processes;
  options.client_version = SB_VERSION;
  options.idle_timeout_ms = cfg.idle_timeout_ms;
  options.max_concurrent_starts = cfg.max_concurrent_starts;
  options.breaker_failures = cfg.breaker_failures;
  options.breaker_cooldown_ms = cfg.breaker_cooldown_ms;
  runner::RunnerService service(options, &catalog, &launcher);
  // Warm starts (minProcesses) and new pool settings as the configuration arrives.
  cache.OnChange(
      [&service](const std::shared_ptr<const configwatch::ConfigView>&) { service.ApplyConfig(); });
  cache.Start();
  runner::RunnerGrpc grpc_service(
      &service, [&cache, token = cfg.admin_token_sha256](grpc::CallbackServerContext* context) {
        std::shared_ptr<const configwatch::ConfigView> view = cache.Current();
        configwatch::AdminCredentialLookup lookup;
        lookup.find_key = [&view](std::string_view sha) {
          return view == nullptr ? nullptr : view->FindApiKeyBySha256(sha);
        };
        lookup.find_user = [&view](std::string_view email) {
          return view == nullptr ? nullptr : view->FindUser(email);
        };
        configwatch::AdminCaller caller = configwatch::IdentifyAdminCaller(*context, token, lookup);
        if (caller.role == configwatch::AdminCaller::Role::kAdmin) return grpc::Status::OK;
        if (caller.role == configwatch::AdminCaller::Role::kMember) {
          return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                              "the runner's admin calls need an admin");
        }
        return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, caller.reason);
      });
  runner::ExportProcessMetrics(&service);
  configwatch::ExportRevisionMetric(cache);
  auto metrics = telemetry::StartMetricsOrExit("sb-runner", cfg.metrics_listen);

  auto server = grpcutil::StartServer(cfg.listen, {&grpc_service});
  if (!server.ok()) {
    service.Shutdown();
    cache.Stop();
    ExitWithError("sb-runner", MessageOf(server.status()));
  }
  std::unique_ptr<wire::Listener> wire_listener;
  if (!cfg.wire_listen.empty()) {
    auto listener = runner::ServeAttach(&service, cfg.wire_listen);
    if (!listener.ok()) {
      service.Shutdown();
      cache.Stop();
      ExitWithError("sb-runner", MessageOf(listener.status()));
    }
    wire_listener = std::move(*listener);
  }
  log::Info("runner listening", {{"address", cfg.listen},
                                 {"wire", cfg.wire_listen},
                                 {"registry", cfg.registry_address}});
  int sig = WaitForTerminationSignal();
  log::Info("runner stopping", {{"signal", sig}});
  if (wire_listener != nullptr) wire_listener->Stop();
  // Refuse new attachments and stop every child first: that also ends every Attach stream, so
  // the gRPC server then stops at once.
  service.Shutdown();
  grpcutil::StopServer(server->get(), 1000);
  cache.Stop();
  metrics.reset();
  telemetry::Tracer::Global().Shutdown();
  return 0;
}
