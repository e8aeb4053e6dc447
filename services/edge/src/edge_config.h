#pragma once

#include <absl/status/status.h>

#include <cstdint>
#include <string>
#include <vector>

#include "switchboard/config/schema.h"

namespace switchboard::edge {

// The edge's configuration (config/edge.yaml, SWITCHBOARD_EDGE_* overrides).
struct EdgeConfig {
  std::string listen = "127.0.0.1:12008";
  std::string router_address = "127.0.0.1:7101";
  std::string router_transport = "wire";  // "wire": router_wire_address; "grpc": router_address
  std::string router_wire_address = "127.0.0.1:9101";
  std::string auth_address = "127.0.0.1:7104";
  std::string registry_address = "127.0.0.1:7103";
  std::string redis_url = "redis://127.0.0.1:6379";
  int64_t threads = 0;
  int64_t max_body_bytes = 4 * 1024 * 1024;
  int64_t session_ttl_seconds = 3600;
  int64_t request_timeout_ms = 300000;
  bool auth_reuse = true;  // give auth's reusable ALLOW answers again without asking
  int64_t sse_keepalive_ms = 15000;     // `:` comment on an idle event stream
  int64_t sse_retry_ms = 3000;          // `retry:` sent to clients of event streams
  int64_t event_stream_max_len = 1000;  // messages kept per session for Last-Event-ID replay
  int64_t heartbeat_ms = 1000;  // renewal of this replica's liveness key in Redis
  int64_t audit_stream_max_len = 100000;  // tools/call records awaiting the registry's drain
  std::vector<std::string> allowed_origins;
  std::string log_level = "info";
  std::string service_token;  // sent on the registry's Watch (from a secret); never logged
};

// Binds every field of `config` to `schema` with its type, bounds and checks.
void BindSchema(config::Schema& schema, EdgeConfig* config);

// Checks what the schema cannot: the Redis URL, the origins and the log level.
absl::Status Validate(const EdgeConfig& config);

}  // namespace switchboard::edge
