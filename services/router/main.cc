// sb-router: a namespace's merged view of its MCP servers, behind the edge.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstdio>
#include <fstream>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "services/router/src/http_upstream.h"
#include "services/router/src/router_grpc.h"
#include "services/router/src/router_wire.h"
#include "services/router/src/router_service.h"
#include "services/router/src/runner_upstream.h"
#include "switchboard/common/log.h"
#include "switchboard/common/signals.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include "switchboard/config/schema.h"
#include "switchboard/configwatch/admin_caller.h"
#include "switchboard/configwatch/config_cache.h"
#include "switchboard/configwatch/revision_metric.h"
#include "switchboard/grpcutil/server.h"
#include "switchboard/registry/v1/registry.grpc.pb.h"
#include "switchboard/telemetry/metrics.h"
#include "switchboard/telemetry/tracer.h"

namespace {

struct RouterConfig {
  std::string listen = "127.0.0.1:7101";
  std::string wire_listen = "127.0.0.1:9101";  // the edge's calls over wire; empty: gRPC only
  std::string registry_address = "127.0.0.1:7103";
  std::string runner_address = "127.0.0.1:7102";
  std::string runner_wire_address = "127.0.0.1:9102";  // empty: Attach over gRPC at runner_address
  int64_t request_timeout_ms = 300000;
  int64_t list_timeout_ms = 15000;
  int64_t list_page_size = 100;
  std::string upstream_ca_file;  // PEM of the CAs https upstreams are checked against
  std::string service_token;     // the registry's internal calls need it; never logged
  std::string log_level = "info";
  std::string metrics_listen;  // GET /metrics; empty: none
};

// Tells the registry the tool names a server lists, so that apply can check the names clients
// would see. Fire and forget: a lost report only means a check done with older names.
void ReportServerTools(switchboard::registry::v1::Registry::Stub* registry,
                       const std::string& authorization, const std::string& server,
                       std::vector<std::string> tools) {
  namespace v1 = switchboard::registry::v1;
  struct Call {
    grpc::ClientContext context;
    v1::RecordServerToolsRequest request;
    v1::RecordServerToolsResponse response;
  };
  auto call = std::make_shared<Call>();
  call->context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  if (!authorization.empty()) {
    call->context.AddMetadata(switchboard::configwatch::kAdminCredentialHeader, authorization);
  }
  v1::ServerTools* entry = call->request.add_servers();
  entry->set_server(server);
  for (std::string& tool : tools) entry->add_tools(std::move(tool));
  registry->async()->RecordServerTools(
      &call->context, &call->request, &call->response, [call](const grpc::Status& status) {
        if (!status.ok()) {
          switchboard::log::Warn("cannot report a server's tool names to the registry",
                                 {{"server", call->request.servers(0).server()},
                                  {"error", status.error_message()}});
        }
      });
}

}  // namespace

int main(int argc, char** argv) {
  using namespace switchboard;
  namespace asio = boost::asio;
  BlockTerminationSignals();
  RouterConfig cfg;
  config::Schema schema("router");
  schema.String("listen", &cfg.listen, config::CheckHostPort)
      .String("wire_listen", &cfg.wire_listen, config::CheckOptionalHostPort)
      .String("registry_address", &cfg.registry_address, config::CheckHostPort)
      .String("runner_address", &cfg.runner_address, config::CheckHostPort)
      .String("runner_wire_address", &cfg.runner_wire_address, config::CheckOptionalHostPort)
      .Int("request_timeout_ms", &cfg.request_timeout_ms, 100, 24LL * 3600 * 1000)
      .Int("list_timeout_ms", &cfg.list_timeout_ms, 100, 600000)
      .Int("list_page_size", &cfg.list_page_size, 1, 10000)
      .String("upstream_ca_file", &cfg.upstream_ca_file,
              [](std::string_view path) {
                if (path.empty() || std::ifstream(std::string(path)).good()) {
                  return absl::OkStatus();
                }
                return absl::InvalidArgumentError(
                    switchboard::StrCat("cannot read '", path, "'"));
              })
      .String("log_level", &cfg.log_level, config::CheckLogLevel)
      .String("service_token", &cfg.service_token)
      .String("metrics_listen", &cfg.metrics_listen, config::CheckOptionalHostPort);
  config::LoadOrExit(schema, "sb-router", argc, argv);
  log::Init("router", cfg.log_level);
  telemetry::ConfigureTracingOrExit("sb-router");

  asio::io_context io(1);
  auto work = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });

  configwatch::ConfigCache cache(grpcutil::MakeChannel(cfg.registry_address), "router",
                                 cfg.service_token);
  std::unique_ptr<router::RunnerUpstreamFactory> grpc_runners;
  std::unique_ptr<router::WireRunnerUpstreamFactory> wire_runners;
  router::UpstreamFactory* runners;
  if (cfg.runner_wire_address.empty()) {
    grpc_runners = std::make_unique<router::RunnerUpstreamFactory>(
        grpcutil::MakeChannel(cfg.runner_address), io.get_executor());
    runners = grpc_runners.get();
  } else {
    wire_runners = std::make_unique<router::WireRunnerUpstreamFactory>(cfg.runner_wire_address,
                                                                       io.get_executor());
    runners = wire_runners.get();
  }
  router::HttpUpstreamOptions http_options;
  http_options.ca_file = cfg.upstream_ca_file;
  router::HttpUpstreamFactory remotes(io.get_executor(), http_options);
  auto registry = registry::v1::Registry::NewStub(grpcutil::MakeChannel(cfg.registry_address));
  router::CompositeUpstreamFactory upstreams(runners, &remotes);
  router::RouterOptions options;
  options.request_timeout_ms = cfg.request_timeout_ms;
  options.list_timeout_ms = cfg.list_timeout_ms;
  options.list_page_size = static_cast<size_t>(cfg.list_page_size);
  options.tools_seen = [&registry,
                        authorization = configwatch::BearerAuthorization(cfg.service_token)](
                           const std::string& server, std::vector<std::string> tools) {
    ReportServerTools(registry.get(), authorization, server, std::move(tools));
  };
  router::RouterService service(io.get_executor(), [&cache] { return cache.Current(); },
                                &upstreams, options);
  // Configuration changes reach the router as they arrive: cached lists of changed servers are
  // dropped and the sessions of changed namespaces told.
  cache.OnChange([&service](const std::shared_ptr<const configwatch::ConfigView>& view) {
    service.OnConfigChange(view);
  });
  cache.Start();
  router::RouterGrpc grpc_service(&service);
  configwatch::ExportRevisionMetric(cache);
  auto metrics = telemetry::StartMetricsOrExit("sb-router", cfg.metrics_listen);
  auto server = grpcutil::StartServer(cfg.listen, {&grpc_service});
  if (!server.ok()) {
    ExitWithError("sb-router", MessageOf(server.status()));
  }
  std::unique_ptr<wire::Listener> wire_listener;
  if (!cfg.wire_listen.empty()) {
    auto listener = router::ServeExchange(io.get_executor(), cfg.wire_listen, &service);
    if (!listener.ok()) ExitWithError("sb-router", MessageOf(listener.status()));
    wire_listener = std::move(*listener);
  }
  log::Info("router listening", {{"address", cfg.listen}, {"wire", cfg.wire_listen}});
  int sig = WaitForTerminationSignal();
  log::Info("router stopping", {{"signal", sig}});
  grpcutil::StopServer(server->get(), 1000);
  if (wire_listener != nullptr) wire_listener->Stop();
  std::promise<void> closed;
  asio::post(io, [&] {
    service.Shutdown();
    closed.set_value();
  });
  closed.get_future().wait();
  if (grpc_runners != nullptr) grpc_runners->CloseAll(2000);
  if (wire_runners != nullptr) wire_runners->CloseAll(2000);
  cache.Stop();
  work.reset();
  io.stop();
  io_thread.join();
  telemetry::Tracer::Global().Shutdown();
  return 0;
}
