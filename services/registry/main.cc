// sb-registry: the configuration of record in Postgres, its admin API and its Watch feed.
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "services/registry/src/call_audit_drain.h"
#include "services/registry/src/embedded_migrations.h"
#include "services/registry/src/migrations.h"
#include "services/registry/src/pg_config_store.h"
#include "services/registry/src/postgres_url.h"
#include "services/registry/src/registry_grpc.h"
#include "services/registry/src/registry_service.h"
#include "switchboard/common/log.h"
#include "switchboard/common/signals.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include "switchboard/config/schema.h"
#include "switchboard/configwatch/admin_caller.h"
#include "switchboard/grpcutil/server.h"
#include "switchboard/redis/client.h"
#include "switchboard/telemetry/metrics.h"
#include "switchboard/telemetry/tracer.h"

namespace switchboard::registry {
namespace {

constexpr char kName[] = "sb-registry";
constexpr int kShutdownGraceMs = 5000;

[[noreturn]] void Fail(std::string_view what, const absl::Status& status) {
  ExitWithError(kName, StrCat(what, ": ", MessageOf(status)));
}

// Configuration, database, service, gRPC; then waits for SIGTERM and shuts down in order:
// watch streams first, then in-flight calls, then the pool.
int Run(int argc, char** argv) {
  BlockTerminationSignals();

  std::string listen = "127.0.0.1:7103";
  std::string postgres_url = "postgresql://switchboard@127.0.0.1:5432/switchboard";
  std::string log_level = "info";
  std::string redis_url;  // sessions admin and the tools/call audit; empty: neither
  RegistryGrpc::AdminAccess admin;
  admin.required = true;
  std::string admin_token;  // the clear token, from a secret's environment; kept only hashed
  std::string service_token;   // the same for the other services' token
  std::string metrics_listen;  // GET /metrics; empty: none
  int64_t audit_drain_interval_ms = 1000;
  config::Schema schema("registry");
  schema.String("listen", &listen, config::CheckHostPort)
      .String("postgres_url", &postgres_url, config::CheckNotEmpty)
      .String("log_level", &log_level, config::CheckLogLevel)
      .String("redis_url", &redis_url, [](std::string_view url) {
        return url.empty() ? absl::OkStatus() : redis::ParseRedisUrl(url).status();
      })
      .String("admin_token_sha256", &admin.admin_token_sha256,
              configwatch::CheckAdminTokenSha256)
      .String("admin_token", &admin_token)
      .String("service_token_sha256", &admin.service_token_sha256,
              configwatch::CheckServiceTokenSha256)
      .String("service_token", &service_token)
      .String("metrics_listen", &metrics_listen, config::CheckOptionalHostPort)
      .Int("audit_drain_interval_ms", &audit_drain_interval_ms, 0, 60000);
  config::LoadOrExit(schema, kName, argc, argv);
  if (absl::Status token = configwatch::HashAdminToken(&admin_token, &admin.admin_token_sha256);
      !token.ok()) {
    ExitWithError(kName, MessageOf(token));
  }
  if (absl::Status token =
          configwatch::HashServiceToken(&service_token, &admin.service_token_sha256);
      !token.ok()) {
    ExitWithError(kName, MessageOf(token));
  }

  log::Init("registry", log_level);
  telemetry::ConfigureTracingOrExit(kName);

  const std::string shown_url = RedactPostgresUrl(postgres_url);
  absl::StatusOr<std::vector<Migration>> migrations = OrderMigrations(EmbeddedMigrationFiles());
  if (!migrations.ok()) Fail("embedded migrations", migrations.status());
  absl::StatusOr<int> applied = MigratePostgres(postgres_url, *migrations);
  if (!applied.ok()) Fail("database " + shown_url, applied.status());
  log::Info("database ready", {{"postgres", shown_url},
                               {"schema_version", static_cast<int64_t>(migrations->size())},
                               {"migrations_applied", *applied}});

  RegistryService service([postgres_url] { return std::make_unique<PgConfigStore>(postgres_url); });
  absl::Status started = service.Start();
  if (!started.ok()) Fail("database " + shown_url, started);

  if (admin.admin_token_sha256.empty()) {
    log::Warn("no admin_token_sha256 configured: only admin users' API keys can use the admin API");
  }
  if (admin.admin_token_sha256.empty() && admin.service_token_sha256.empty()) {
    log::Warn(
        "no service_token_sha256 (nor admin token) configured: Watch, which streams the whole "
        "configuration with its secrets, RecordApiKeyUse and RecordServerTools accept any caller; "
        "set service_token here and in edge, auth, router and runner");
  } else if (admin.service_token_sha256.empty()) {
    log::Warn(
        "no service_token_sha256 configured: the other services' calls (Watch, RecordApiKeyUse, "
        "RecordServerTools) need the admin token as their service_token");
  }
  RegistryGrpc grpc_service(&service, 256, admin);
  // Redis (optional): users' sessions, and the tools/call stream drained into Postgres. One
  // connection each, driven by one thread.
  boost::asio::io_context redis_io;
  auto redis_work = boost::asio::make_work_guard(redis_io);
  std::shared_ptr<redis::RedisClient> redis, drain_redis;
  std::unique_ptr<SessionAdmin> sessions;
  std::unique_ptr<CallAuditDrain> drain;
  if (!redis_url.empty()) {
    redis::RedisEndpoint endpoint = *redis::ParseRedisUrl(redis_url);
    redis = redis::RedisClient::Create(redis_io.get_executor(), endpoint);
    drain_redis = redis::RedisClient::Create(redis_io.get_executor(), endpoint);
    sessions = std::make_unique<SessionAdmin>(redis, redis_io.get_executor());
    grpc_service.SetSessionAdmin(sessions.get());
    drain = std::make_unique<CallAuditDrain>(
        drain_redis, &service, std::chrono::milliseconds(audit_drain_interval_ms));
    log::Info("sessions and tool call audit in redis", {{"redis", endpoint.Describe()}});
  }
  std::thread redis_thread([&redis_io] { redis_io.run(); });
  if (drain != nullptr) drain->Start();
  telemetry::GaugeFromCallback(
      "sb_registry_revision", "The latest configuration revision (what every Watch converges to)",
      [&service] { return static_cast<double>(service.watch_hub().revision()); });
  auto metrics = telemetry::StartMetricsOrExit(kName, metrics_listen);
  absl::StatusOr<std::unique_ptr<grpc::Server>> server =
      grpcutil::StartServer(listen, {&grpc_service});
  if (!server.ok()) {
    if (drain != nullptr) drain->Stop();
    service.Stop();
    Fail("listen", server.status());
  }
  log::Info("registry serving", {{"listen", listen}, {"revision", service.watch_hub().revision()}});

  int signal = WaitForTerminationSignal();
  log::Info("shutting down", {{"signal", signal}});
  service.watch_hub().CloseAll();
  grpcutil::StopServer(server->get(), kShutdownGraceMs);
  if (drain != nullptr) drain->Stop();
  if (redis != nullptr) redis->Close();
  if (drain_redis != nullptr) drain_redis->Close();
  redis_work.reset();
  redis_io.stop();
  redis_thread.join();
  service.Stop();
  metrics.reset();
  telemetry::Tracer::Global().Shutdown();
  log::Info("stopped");
  return 0;
}

}  // namespace
}  // namespace switchboard::registry

int main(int argc, char** argv) { return switchboard::registry::Run(argc, argv); }
