#include "services/edge/src/edge_config.h"

#include "services/edge/src/origin.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include "switchboard/redis/endpoint.h"

namespace switchboard::edge {

namespace {

// One host:port or several, comma-separated.
absl::Status CheckAddressList(std::string_view value) {
  std::vector<std::string> addresses = SplitList(value);
  if (addresses.empty()) return absl::InvalidArgumentError("no router address");
  for (const std::string& address : addresses) {
    SB_RETURN_IF_ERROR(config::CheckHostPort(address));
  }
  return absl::OkStatus();
}

}  // namespace

void BindSchema(config::Schema& schema, EdgeConfig* config) {
  schema.String("listen", &config->listen, config::CheckHostPort)
      .String("router_address", &config->router_address, CheckAddressList)
      .String("router_transport", &config->router_transport,
              [](std::string_view value) -> absl::Status {
                if (value == "wire" || value == "grpc") return absl::OkStatus();
                return absl::InvalidArgumentError(
                    StrCat("must be \"wire\" or \"grpc\", not \"", value, "\""));
              })
      .String("router_wire_address", &config->router_wire_address, CheckAddressList)
      .String("auth_address", &config->auth_address, config::CheckHostPort)
      .String("registry_address", &config->registry_address, config::CheckHostPort)
      .String("redis_url", &config->redis_url, config::CheckNotEmpty)
      .Int("threads", &config->threads, 0, 256)
      .Int("max_body_bytes", &config->max_body_bytes, 1024, int64_t{1} << 30)
      .Int("session_ttl_seconds", &config->session_ttl_seconds, 10, 30 * 24 * 3600)
      .Int("request_timeout_ms", &config->request_timeout_ms, 100, 24 * 3600 * 1000)
      .Bool("auth_reuse", &config->auth_reuse)
      .Int("sse_keepalive_ms", &config->sse_keepalive_ms, 100, 3600 * 1000)
      .Int("sse_retry_ms", &config->sse_retry_ms, 0, 3600 * 1000)
      .Int("event_stream_max_len", &config->event_stream_max_len, 10, 1000000)
      .Int("heartbeat_ms", &config->heartbeat_ms, 100, 60000)
      .Int("audit_stream_max_len", &config->audit_stream_max_len, 100, 100000000)
      .StringList("allowed_origins", &config->allowed_origins)
      .String("log_level", &config->log_level, config::CheckLogLevel)
      .String("service_token", &config->service_token);
}

absl::Status Validate(const EdgeConfig& config) {
  absl::StatusOr<redis::RedisEndpoint> redis = redis::ParseRedisUrl(config.redis_url);
  if (!redis.ok()) {
    return absl::InvalidArgumentError(StrCat("field 'redis_url': ", MessageOf(redis.status())));
  }
  absl::StatusOr<OriginPolicy> origins = OriginPolicy::Create(config.allowed_origins);
  if (!origins.ok()) {
    return absl::InvalidArgumentError(
        StrCat("field 'allowed_origins': ", MessageOf(origins.status())));
  }
  return absl::OkStatus();
}

}  // namespace switchboard::edge
