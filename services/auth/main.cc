// sb-auth: credential checks for every edge request, served from the Watch-fed configuration.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <thread>

#include "services/auth/src/auth_grpc.h"
#include "services/auth/src/http_get.h"
#include "services/auth/src/jwks_cache.h"
#include "switchboard/common/log.h"
#include "switchboard/common/signals.h"
#include "switchboard/common/status.h"
#include "switchboard/config/schema.h"
#include "switchboard/configwatch/admin_caller.h"
#include "switchboard/configwatch/config_cache.h"
#include "switchboard/configwatch/revision_metric.h"
#include "switchboard/grpcutil/server.h"
#include "switchboard/redis/client.h"
#include "switchboard/redis/endpoint.h"
#include "switchboard/registry/v1/registry.grpc.pb.h"
#include "switchboard/telemetry/metrics.h"
#include "switchboard/telemetry/tracer.h"

namespace {

struct AuthConfig {
  std::string listen = "127.0.0.1:7104";
  std::string registry_address = "127.0.0.1:7103";
  int64_t key_use_report_ms = 30000;
  int64_t decision_reuse_ms = 1000;  // how long the edge may reuse an unlimited ALLOW; 0: never
  std::string log_level = "info";
  std::string redis_url;  // empty: no rate limits
  std::string on_redis_unavailable = "fail-closed";
  // OAuth endpoints: the edge's public base URL (canonical URLs, token audiences), the clock
  // skew allowed on exp/nbf, and how signing keys are fetched and refreshed.
  std::string public_base_url = "http://127.0.0.1:12008";
  int64_t jwt_clock_skew_seconds = 60;
  int64_t jwks_fetch_timeout_ms = 3000;
  int64_t jwks_unknown_kid_interval_ms = 60000;
  int64_t jwks_min_fetch_gap_ms = 1000;
  int64_t jwks_max_age_seconds = 3600;
  std::string jwks_ca_file;
  std::string service_token;   // the registry's internal calls need it; never logged
  std::string metrics_listen;  // GET /metrics; empty: none
};

absl::Status CheckRedisUrl(std::string_view url) {
  if (url.empty()) return absl::OkStatus();
  return switchboard::redis::ParseRedisUrl(url).status();
}

// An absolute http(s) URL without a trailing path beyond the base ("https://mcp.example.com",
// "https://example.com/gateway").
absl::Status CheckBaseUrl(std::string_view value) {
  if ((value.rfind("http://", 0) != 0 && value.rfind("https://", 0) != 0) ||
      value.find_first_of("?# ") != std::string_view::npos ||
      value.substr(value.find("://") + 3).empty()) {
    return absl::InvalidArgumentError("must be an http:// or https:// URL without query");
  }
  return absl::OkStatus();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace switchboard;
  BlockTerminationSignals();
  AuthConfig cfg;
  config::Schema schema("auth");
  schema.String("listen", &cfg.listen, config::CheckHostPort)
      .String("registry_address", &cfg.registry_address, config::CheckHostPort)
      .Int("key_use_report_ms", &cfg.key_use_report_ms, 100, int64_t{3600} * 1000)
      .Int("decision_reuse_ms", &cfg.decision_reuse_ms, 0, 60000)
      .String("log_level", &cfg.log_level, config::CheckLogLevel)
      .String("redis_url", &cfg.redis_url, CheckRedisUrl)
      .String("on_redis_unavailable", &cfg.on_redis_unavailable, auth::CheckRedisDownPolicy)
      .String("public_base_url", &cfg.public_base_url, CheckBaseUrl)
      .Int("jwt_clock_skew_seconds", &cfg.jwt_clock_skew_seconds, 0, 600)
      .Int("jwks_fetch_timeout_ms", &cfg.jwks_fetch_timeout_ms, 100, 60000)
      .Int("jwks_unknown_kid_interval_ms", &cfg.jwks_unknown_kid_interval_ms, 0,
           int64_t{24} * 3600 * 1000)
      .Int("jwks_min_fetch_gap_ms", &cfg.jwks_min_fetch_gap_ms, 0, int64_t{3600} * 1000)
      .Int("jwks_max_age_seconds", &cfg.jwks_max_age_seconds, 10, int64_t{7} * 24 * 3600)
      .String("jwks_ca_file", &cfg.jwks_ca_file)
      .String("service_token", &cfg.service_token)
      .String("metrics_listen", &cfg.metrics_listen, config::CheckOptionalHostPort);
  config::LoadOrExit(schema, "sb-auth", argc, argv);
  log::Init("auth", cfg.log_level);
  telemetry::ConfigureTracingOrExit("sb-auth");

  // Rate limits: one Redis connection, driven by its own thread.
  boost::asio::io_context redis_io;
  auto redis_work = boost::asio::make_work_guard(redis_io);
  std::shared_ptr<redis::RedisClient> redis;
  std::unique_ptr<auth::RateLimiter> limiter;
  if (!cfg.redis_url.empty()) {
    redis::RedisOptions options;
    options.connect_timeout = std::chrono::milliseconds(1000);
    options.command_timeout = std::chrono::milliseconds(1000);
    redis::RedisEndpoint endpoint = *redis::ParseRedisUrl(cfg.redis_url);
    redis = redis::RedisClient::Create(redis_io.get_executor(), endpoint, options);
    limiter = std::make_unique<auth::RateLimiter>(
        redis, *auth::ParseRedisDownPolicy(cfg.on_redis_unavailable));
    log::Info("rate limits in redis", {{"redis", endpoint.Describe()},
                                       {"on_redis_unavailable", cfg.on_redis_unavailable}});
  } else {
    log::Info("no redis_url: rate limits are not enforced");
  }
  std::thread redis_thread([&redis_io] { redis_io.run(); });

  auth::HttpGetOptions fetch_options;
  fetch_options.timeout = std::chrono::milliseconds(cfg.jwks_fetch_timeout_ms);
  fetch_options.ca_file = cfg.jwks_ca_file;
  auth::JwksCacheOptions jwks_options;
  jwks_options.unknown_kid_interval = std::chrono::milliseconds(cfg.jwks_unknown_kid_interval_ms);
  jwks_options.min_fetch_gap = std::chrono::milliseconds(cfg.jwks_min_fetch_gap_ms);
  jwks_options.max_age = std::chrono::seconds(cfg.jwks_max_age_seconds);
  auth::JwksCache jwks(
      [fetch_options](const std::string& url) { return auth::HttpGet(url, fetch_options); },
      jwks_options);
  jwks.Start();
  auth::OauthOptions oauth;
  oauth.public_base_url = cfg.public_base_url;
  oauth.clock_skew_seconds = cfg.jwt_clock_skew_seconds;

  configwatch::ConfigCache cache(grpcutil::MakeChannel(cfg.registry_address), "auth",
                                 cfg.service_token);
  // Each OAuth endpoint's keys are fetched as soon as the endpoint is known, not by its first
  // caller.
  cache.OnChange([&jwks](const std::shared_ptr<const configwatch::ConfigView>& view) {
    for (const auto& [name, endpoint] : view->endpoints()) {
      if (endpoint.enable_oauth() && !endpoint.oauth_jwks_url().empty()) {
        jwks.Prefetch(endpoint.oauth_jwks_url());
      }
    }
  });
  cache.Start();
  configwatch::ExportRevisionMetric(cache);
  auto metrics = telemetry::StartMetricsOrExit("sb-auth", cfg.metrics_listen);
  auto registry = registry::v1::Registry::NewStub(grpcutil::MakeChannel(cfg.registry_address));
  auth::KeyUseReporter key_use(
      [&registry, authorization = configwatch::BearerAuthorization(cfg.service_token)](
          const registry::v1::RecordApiKeyUseRequest& request) {
        return grpcutil::CallUnary<registry::v1::RecordApiKeyUseResponse>(
                   *registry, &registry::v1::Registry::Stub::RecordApiKeyUse, request,
                   std::chrono::seconds(5), authorization)
            .status();
      },
      std::chrono::milliseconds(cfg.key_use_report_ms));
  key_use.Start();
  auth::AuthGrpc service(&cache, &key_use, &jwks, oauth, limiter.get(),
                         std::chrono::milliseconds(cfg.decision_reuse_ms));
  auto server = grpcutil::StartServer(cfg.listen, {&service});
  if (!server.ok()) {
    ExitWithError("sb-auth", MessageOf(server.status()));
  }
  log::Info("auth listening", {{"address", cfg.listen}});
  int sig = WaitForTerminationSignal();
  log::Info("auth stopping", {{"signal", sig}});
  jwks.Stop();  // requests waiting for a key fetch are decided with the keys held
  grpcutil::StopServer(server->get(), 2000);
  key_use.Stop();  // one last report
  cache.Stop();
  if (redis != nullptr) redis->Close();
  redis_work.reset();
  redis_io.stop();
  redis_thread.join();
  metrics.reset();
  telemetry::Tracer::Global().Shutdown();
  return 0;
}
