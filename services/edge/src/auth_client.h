#pragma once

#include <absl/status/statusor.h>

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "switchboard/telemetry/trace_context.h"

namespace switchboard::edge {

// What the edge asks auth about one request. `credential` is a secret: never log it.
struct AuthQuery {
  std::string endpoint;
  std::string credential;
  std::string credential_source;  // "authorization" | "x-api-key" | "query" | "" (none)
  std::string tool;               // the tool name of a tools/call, for per-tool limits
  std::string session_id;
  std::string remote_address;
  telemetry::TraceHeaders trace;  // the edge span's context, sent as gRPC metadata
};

// auth's answer: who is calling and whether they may.
struct AuthResult {
  enum class Decision { kAllow, kUnauthenticated, kForbidden, kNotFound, kRateLimited };

  Decision decision = Decision::kForbidden;
  std::string reason;  // safe to show the client
  std::string user_email;
  std::string api_key_id;
  std::string namespace_name;
  int retry_after_seconds = 0;
  // OAuth endpoints: what WWW-Authenticate says on a refusal (empty elsewhere).
  std::string resource_metadata_url;
  std::string bearer_error;    // "invalid_token", "insufficient_scope", ...
  std::string required_scope;  // with insufficient_scope: the scopes needed, space-separated
  // How long the edge may give this same answer to the same query without asking (0: ask every
  // time), while its configuration is at `config_revision`, the one auth decided under.
  std::chrono::milliseconds reuse{0};
  int64_t config_revision = 0;
};

// An OAuth endpoint's RFC 9728 protected-resource metadata.
struct ResourceMetadata {
  std::string resource;
  std::vector<std::string> authorization_servers;
  std::vector<std::string> scopes_supported;
};

// The auth service as the edge uses it.
class AuthClient {
 public:
  virtual ~AuthClient() = default;
  // Decides one request. An error status means auth could not be asked (unreachable, timed
  // out, or an answer the edge does not understand); the edge then refuses with 503.
  virtual boost::asio::awaitable<absl::StatusOr<AuthResult>> Authorize(AuthQuery query) = 0;
  // The metadata of `endpoint`; nullopt when it is unknown or does not use OAuth. An error
  // status when auth could not be asked.
  virtual boost::asio::awaitable<absl::StatusOr<std::optional<ResourceMetadata>>>
  GetResourceMetadata(std::string endpoint) = 0;
};

}  // namespace switchboard::edge
