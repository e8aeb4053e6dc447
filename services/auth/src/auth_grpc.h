#pragma once

#include "switchboard/auth/v1/auth.grpc.pb.h"
#include "switchboard/configwatch/config_cache.h"

namespace switchboard::auth {

// The Auth gRPC service: maps Authorize onto AuthService over the current configuration.
// Answers inline on the callback thread: the decision needs no I/O.
class AuthGrpc final : public v1::Auth::CallbackService {
 public:
  explicit AuthGrpc(const configwatch::ConfigCache* cache) : cache_(cache) {}

  grpc::ServerUnaryReactor* Authorize(grpc::CallbackServerContext* context,
                                      const v1::AuthorizeRequest* request,
                                      v1::AuthorizeResponse* response) override;

 private:
  const configwatch::ConfigCache* cache_;
};

}  // namespace switchboard::auth
