#include <chrono>
#include <cstdio>

#include "services/edge/src/auth_answers.h"
#include "services/edge/src/edge_config.h"
#include "services/edge/src/edge_service.h"
#include "services/edge/src/grpc_auth_client.h"
#include "services/edge/src/grpc_router_client.h"
#include "services/edge/src/router_pool.h"
#include "services/edge/src/wire_router_client.h"
#include "services/edge/src/http_server.h"
#include "services/edge/src/io_pool.h"
#include "services/edge/src/redis_session_store.h"
#include "services/edge/src/session_events.h"
#include "switchboard/common/log.h"
#include "switchboard/common/signals.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include "switchboard/config/schema.h"
#include "switchboard/configwatch/config_cache.h"
#include "switchboard/configwatch/revision_metric.h"
#include "switchboard/grpcutil/server.h"
#include "switchboard/redis/client.h"
#include "switchboard/telemetry/tracer.h"

namespace {

constexpr std::chrono::milliseconds kAuthTimeout{5000};
constexpr std::chrono::seconds kShutdownGrace{10};

[[noreturn]] void Die(std::string_view message) { switchboard::ExitWithError("sb-edge", message, 2); }

}  // namespace

int main(int argc, char** argv) {
  using namespace switchboard;
  BlockTerminationSignals();

  edge::EdgeConfig cfg;
  config::Schema schema("edge");
  edge::BindSchema(schema, &cfg);
  config::LoadOrExit(schema, "sb-edge", argc, argv);
  if (absl::Status s = edge::Validate(cfg); !s.ok()) Die(MessageOf(s));
  log::Init("edge", cfg.log_level);
  telemetry::ConfigureTracingOrExit("sb-edge");
  redis::RedisEndpoint redis_endpoint = *redis::ParseRedisUrl(cfg.redis_url);

  // Declared in dependency order, so that destruction runs the other way: the pool (and any
  // coroutine frame it still holds) goes before the gRPC clients those frames point at.
  // Outlives the ConfigCache, whose listener it is.
  edge::AuthAnswers auth_answers;
  configwatch::ConfigCache config_cache(grpcutil::MakeChannel(cfg.registry_address), "edge",
                                        cfg.service_token);
  if (cfg.auth_reuse) {
    // A new configuration may revoke what an answer rests on: every answer goes with it.
    config_cache.OnChange(
        [&auth_answers](const std::shared_ptr<const configwatch::ConfigView>& view) {
          auth_answers.SetRevision(view->revision());
        });
  }
  edge::GrpcAuthClient auth(grpcutil::MakeChannel(cfg.auth_address), kAuthTimeout);
  std::vector<edge::RouterPool::Member> routers;
  std::vector<edge::WireRouterClient*> wire_routers;  // bound to the io threads below
  if (cfg.router_transport == "wire") {
    for (const std::string& address : SplitList(cfg.router_wire_address)) {
      auto client = std::make_unique<edge::WireRouterClient>(address);
      edge::WireRouterClient* raw = client.get();
      wire_routers.push_back(raw);
      routers.push_back({address, std::move(client), [raw] { return raw->Available(); }});
    }
  } else {
    for (const std::string& address : SplitList(cfg.router_address)) {
      auto client = std::make_unique<edge::GrpcRouterClient>(grpcutil::MakeChannel(address));
      edge::GrpcRouterClient* raw = client.get();
      routers.push_back({address, std::move(client), [raw] { return raw->Available(); }});
    }
  }
  edge::RouterPool router(std::move(routers));
  edge::IoContextPool pool(static_cast<size_t>(cfg.threads));
  std::vector<boost::asio::io_context::executor_type> io_executors;
  for (size_t i = 0; i < pool.size(); ++i) io_executors.push_back(pool.At(i).get_executor());
  for (edge::WireRouterClient* client : wire_routers) client->Bind(io_executors);
  // One Redis connection per io thread: a request's session and audit commands stay on its thread.
  auto redis = redis::RedisClient::Create(io_executors, redis_endpoint);
  edge::RedisSessionStore sessions(redis, std::chrono::seconds(cfg.session_ttl_seconds));
  edge::SessionEvents events(redis, redis_endpoint, pool.At(0).get_executor(),
                             std::chrono::seconds(cfg.session_ttl_seconds),
                             static_cast<size_t>(cfg.event_stream_max_len));
  events.StartHeartbeat(std::chrono::milliseconds(cfg.heartbeat_ms));

  edge::EdgeOptions options;
  options.origins = *edge::OriginPolicy::Create(cfg.allowed_origins);
  options.request_timeout = std::chrono::milliseconds(cfg.request_timeout_ms);
  options.sse_keepalive = std::chrono::milliseconds(cfg.sse_keepalive_ms);
  options.sse_retry = std::chrono::milliseconds(cfg.sse_retry_ms);
  options.config_synced = [&config_cache] { return config_cache.Synced(); };
  edge::RedisCallAudit call_audit(redis, static_cast<size_t>(cfg.audit_stream_max_len));
  options.call_audit = &call_audit;
  if (cfg.auth_reuse) options.auth_answers = &auth_answers;
  edge::EdgeService service(std::move(options), auth, router, sessions, &events);

  edge::HttpServerOptions server_options;
  server_options.max_body_bytes = static_cast<size_t>(cfg.max_body_bytes);
  edge::HttpServer server(pool, service, server_options);
  if (absl::Status s = server.Listen(cfg.listen); !s.ok()) Die(MessageOf(s));

  configwatch::ExportRevisionMetric(config_cache);
  config_cache.Start();
  server.Start();
  pool.Start();
  log::Info("edge listening", {{"listen", cfg.listen},
                               {"threads", static_cast<int64_t>(pool.size())},
                               {"router", cfg.router_transport == "wire"
                                              ? cfg.router_wire_address
                                              : cfg.router_address},
                               {"router_transport", cfg.router_transport},
                               {"auth", cfg.auth_address},
                               {"registry", cfg.registry_address},
                               {"redis", redis_endpoint.Describe()}});

  int signal = WaitForTerminationSignal();
  log::Info("stopping", {{"signal", signal}});
  events.Close();  // ends the event streams, which would otherwise hold the grace period
  server.Stop(kShutdownGrace);
  config_cache.Stop();
  redis->Close();
  for (edge::WireRouterClient* client : wire_routers) client->Shutdown();
  pool.Stop();
  telemetry::Tracer::Global().Shutdown();
  log::Info("stopped");
  return 0;
}
