#pragma once

#include "services/auth/src/key_use.h"

#include "switchboard/auth/v1/auth.grpc.pb.h"
#include "switchboard/configwatch/config_cache.h"

namespace switchboard::auth {

// The Auth gRPC service: maps Authorize onto AuthService over the current configuration.
// Answers inline on the callback thread: the decision needs no I/O.
class AuthGrpc final : public v1::Auth::CallbackService {
 public:
  // `key_use` (may be null) hears of every key accepted.
  explicit AuthGrpc(const configwatch::ConfigCache* cache, KeyUseReporter* key_use = nullptr)
      : cache_(cache), key_use_(key_use) {}

  grpc::ServerUnaryReactor* Authorize(grpc::CallbackServerContext* context,
                                      const v1::AuthorizeRequest* request,
                                      v1::AuthorizeResponse* response) override;

 private:
  const configwatch::ConfigCache* cache_;
  KeyUseReporter* key_use_;
};

}  // namespace switchboard::auth
