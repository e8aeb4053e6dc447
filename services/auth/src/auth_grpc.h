#pragma once

#include "services/auth/src/auth_service.h"
#include "services/auth/src/jwks_cache.h"
#include "services/auth/src/key_use.h"

#include "switchboard/auth/v1/auth.grpc.pb.h"
#include "switchboard/configwatch/config_cache.h"

namespace switchboard::auth {

// The Auth gRPC service: maps Authorize onto AuthService over the current configuration.
// Answers inline on the callback thread: the decision needs no I/O. The one exception is a
// bearer token signed with a key that `jwks` does not hold: its answer waits for one fetch of
// the endpoint's JWK Set (rate-limited by the cache) on the cache's thread, then is decided again.
class AuthGrpc final : public v1::Auth::CallbackService {
 public:
  // `key_use` (may be null) hears of every key accepted. `jwks` (may be null: no bearer tokens)
  // holds the OAuth endpoints' signing keys; `oauth` says how to check their tokens.
  explicit AuthGrpc(const configwatch::ConfigCache* cache, KeyUseReporter* key_use = nullptr,
                    JwksCache* jwks = nullptr, OauthOptions oauth = {});

  grpc::ServerUnaryReactor* Authorize(grpc::CallbackServerContext* context,
                                      const v1::AuthorizeRequest* request,
                                      v1::AuthorizeResponse* response) override;
  grpc::ServerUnaryReactor* GetResourceMetadata(grpc::CallbackServerContext* context,
                                                const v1::ResourceMetadataRequest* request,
                                                v1::ResourceMetadataResponse* response) override;

 private:
  // Decides and finishes, unless the token's key must be fetched first (and `may_fetch`).
  void Decide(grpc::ServerUnaryReactor* reactor, const v1::AuthorizeRequest* request,
              v1::AuthorizeResponse* response, bool may_fetch);

  const configwatch::ConfigCache* cache_;
  KeyUseReporter* key_use_;
  JwksCache* jwks_;
  OauthOptions oauth_;
};

}  // namespace switchboard::auth
