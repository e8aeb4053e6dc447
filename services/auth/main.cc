// sb-auth: credential checks for every edge request, served from the Watch-fed configuration.
#include <memory>
#include <string>

#include "services/auth/src/auth_grpc.h"
#include "switchboard/common/log.h"
#include "switchboard/common/signals.h"
#include "switchboard/common/status.h"
#include "switchboard/config/schema.h"
#include "switchboard/configwatch/config_cache.h"
#include "switchboard/configwatch/revision_metric.h"
#include "switchboard/grpcutil/server.h"
#include "switchboard/registry/v1/registry.grpc.pb.h"
#include "switchboard/telemetry/metrics.h"
#include "switchboard/telemetry/tracer.h"

namespace {

struct AuthConfig {
  std::string listen = "127.0.0.1:7104";
  std::string registry_address = "127.0.0.1:7103";
  int64_t key_use_report_ms = 30000;
  std::string log_level = "info";
  std::string metrics_listen;  // GET /metrics; empty: none
};

}  // namespace

int main(int argc, char** argv) {
  using namespace switchboard;
  BlockTerminationSignals();
  AuthConfig cfg;
  config::Schema schema("auth");
  schema.String("listen", &cfg.listen, config::CheckHostPort)
      .String("registry_address", &cfg.registry_address, config::CheckHostPort)
      .Int("key_use_report_ms", &cfg.key_use_report_ms, 100, int64_t{3600} * 1000)
      .String("log_level", &cfg.log_level, config::CheckLogLevel)
      .String("metrics_listen", &cfg.metrics_listen, config::CheckOptionalHostPort);
  config::LoadOrExit(schema, "sb-auth", argc, argv);
  log::Init("auth", cfg.log_level);
  telemetry::ConfigureTracingOrExit("sb-auth");

  configwatch::ConfigCache cache(grpcutil::MakeChannel(cfg.registry_address), "auth");
  cache.Start();
  configwatch::ExportRevisionMetric(cache);
  auto metrics = telemetry::StartMetricsOrExit("sb-auth", cfg.metrics_listen);
  auto registry = registry::v1::Registry::NewStub(grpcutil::MakeChannel(cfg.registry_address));
  auth::KeyUseReporter key_use(
      [&registry](const registry::v1::RecordApiKeyUseRequest& request) {
        return grpcutil::CallUnary<registry::v1::RecordApiKeyUseResponse>(
                   *registry, &registry::v1::Registry::Stub::RecordApiKeyUse, request,
                   std::chrono::seconds(5))
            .status();
      },
      std::chrono::milliseconds(cfg.key_use_report_ms));
  key_use.Start();
  auth::AuthGrpc service(&cache, &key_use);
  auto server = grpcutil::StartServer(cfg.listen, {&service});
  if (!server.ok()) {
    ExitWithError("sb-auth", MessageOf(server.status()));
  }
  log::Info("auth listening", {{"address", cfg.listen}});
  int sig = WaitForTerminationSignal();
  log::Info("auth stopping", {{"signal", sig}});
  grpcutil::StopServer(server->get(), 2000);
  key_use.Stop();  // one last report
  cache.Stop();
  metrics.reset();
  telemetry::Tracer::Global().Shutdown();
  return 0;
}
