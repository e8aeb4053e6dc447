#pragma once

#include "services/auth/src/key_use.h"
#include "services/auth/src/rate_limiter.h"

#include "switchboard/auth/v1/auth.grpc.pb.h"
#include "switchboard/configwatch/config_cache.h"

namespace switchboard::auth {

// The Auth gRPC service: maps Authorize onto AuthService over the current configuration.
// Answers inline on the callback thread, except for a request that rate limits apply to: that
// one is answered when Redis has counted it (never blocking a thread).
class AuthGrpc final : public v1::Auth::CallbackService {
 public:
  // `key_use` (may be null) hears of every key accepted; `limiter` (may be null: no limits)
  // counts allowed requests against the endpoint's and tools' limits.
  explicit AuthGrpc(const configwatch::ConfigCache* cache, KeyUseReporter* key_use = nullptr,
                    RateLimiter* limiter = nullptr)
      : cache_(cache), key_use_(key_use), limiter_(limiter) {}

  grpc::ServerUnaryReactor* Authorize(grpc::CallbackServerContext* context,
                                      const v1::AuthorizeRequest* request,
                                      v1::AuthorizeResponse* response) override;

 private:
  const configwatch::ConfigCache* cache_;
  KeyUseReporter* key_use_;
  RateLimiter* limiter_;
};

}  // namespace switchboard::auth
