// sb-auth: credential checks for every edge request, served from the Watch-fed configuration.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <string>
#include <thread>

#include "services/auth/src/auth_grpc.h"
#include "switchboard/common/log.h"
#include "switchboard/common/signals.h"
#include "switchboard/common/status.h"
#include "switchboard/config/schema.h"
#include "switchboard/configwatch/config_cache.h"
#include "switchboard/grpcutil/server.h"
#include "switchboard/redis/client.h"
#include "switchboard/redis/endpoint.h"
#include "switchboard/registry/v1/registry.grpc.pb.h"

namespace {

struct AuthConfig {
  std::string listen = "127.0.0.1:7104";
  std::string registry_address = "127.0.0.1:7103";
  int64_t key_use_report_ms = 30000;
  std::string log_level = "info";
  std::string redis_url;  // empty: no rate limits
  std::string on_redis_unavailable = "fail-closed";
};

absl::Status CheckRedisUrl(std::string_view url) {
  if (url.empty()) return absl::OkStatus();
  return switchboard::redis::ParseRedisUrl(url).status();
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
      .String("log_level", &cfg.log_level, config::CheckLogLevel)
      .String("redis_url", &cfg.redis_url, CheckRedisUrl)
      .String("on_redis_unavailable", &cfg.on_redis_unavailable, auth::CheckRedisDownPolicy);
  config::LoadOrExit(schema, "sb-auth", argc, argv);
  log::Init("auth", cfg.log_level);

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

  configwatch::ConfigCache cache(grpcutil::MakeChannel(cfg.registry_address), "auth");
  cache.Start();
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
  auth::AuthGrpc service(&cache, &key_use, limiter.get());
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
  if (redis != nullptr) redis->Close();
  redis_work.reset();
  redis_io.stop();
  redis_thread.join();
  return 0;
}
