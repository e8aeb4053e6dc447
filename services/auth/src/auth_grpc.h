#pragma once

#include <chrono>

#include "services/auth/src/auth_service.h"
#include "services/auth/src/auth_telemetry.h"
#include "services/auth/src/jwks_cache.h"
#include "services/auth/src/key_use.h"
#include "services/auth/src/rate_limiter.h"
#include "switchboard/auth/v1/auth.grpc.pb.h"
#include "switchboard/configwatch/config_cache.h"

namespace switchboard::auth {

// The Auth gRPC service: maps Authorize onto AuthService over the current configuration.
// Answers inline on the callback thread: the credential check needs no I/O, with two
// exceptions that never block a thread. A bearer token signed with a key that `jwks` does not
// hold waits for one fetch of the endpoint's JWK Set (rate-limited by the cache), then is
// decided again; an allowed request that rate limits apply to is answered once Redis has
// counted it. An ALLOW that no limit applies to carries reuse_ms: how long the edge may give it
// again without asking (at most `max_reuse`, never past the credential's expiry).
class AuthGrpc final : public v1::Auth::CallbackService {
 public:
  // `key_use` (may be null) hears of every key accepted. `jwks` (may be null: no bearer tokens)
  // holds the OAuth endpoints' signing keys; `oauth` says how to check their tokens. `limiter`
  // (may be null: no limits) counts allowed requests, whatever the credential, against the
  // endpoint's and tools' limits. `max_reuse` 0: the edge asks about every request.
  AuthGrpc(const configwatch::ConfigCache* cache, KeyUseReporter* key_use, JwksCache* jwks,
           OauthOptions oauth, RateLimiter* limiter,
           std::chrono::milliseconds max_reuse = std::chrono::milliseconds(0));

  grpc::ServerUnaryReactor* Authorize(grpc::CallbackServerContext* context,
                                      const v1::AuthorizeRequest* request,
                                      v1::AuthorizeResponse* response) override;
  grpc::ServerUnaryReactor* GetResourceMetadata(grpc::CallbackServerContext* context,
                                                const v1::ResourceMetadataRequest* request,
                                                v1::ResourceMetadataResponse* response) override;

 private:
  // Decides and finishes, unless the token's key must be fetched first (and `may_fetch`).
  // `telemetry` records how the call ends, whichever thread that is on.
  void Decide(grpc::ServerUnaryReactor* reactor, const v1::AuthorizeRequest* request,
              v1::AuthorizeResponse* response, std::shared_ptr<AuthorizeTelemetry> telemetry,
              bool may_fetch);

  const configwatch::ConfigCache* cache_;
  KeyUseReporter* key_use_;
  JwksCache* jwks_;
  OauthOptions oauth_;
  RateLimiter* limiter_;
  std::chrono::milliseconds max_reuse_;
};

}  // namespace switchboard::auth
