#include "services/auth/src/auth_service.h"

#include <algorithm>
#include <chrono>

#include "switchboard/common/crypto.h"

namespace switchboard::auth {

using v1::AuthorizeResponse;

namespace {

AuthorizeResponse Decide(AuthorizeResponse::Decision decision, std::string reason) {
  AuthorizeResponse r;
  r.set_decision(decision);
  r.set_reason(std::move(reason));
  return r;
}

bool Expired(const registry::v1::ApiKey& key, int64_t now_unix) {
  return key.expires_unix() > 0 && now_unix >= key.expires_unix();
}

bool ScopedTo(const registry::v1::ApiKey& key, const std::string& endpoint) {
  if (key.endpoints_size() == 0) return true;
  return std::find(key.endpoints().begin(), key.endpoints().end(), endpoint) !=
         key.endpoints().end();
}

}  // namespace

AuthorizeResponse AuthService::Authorize(const v1::AuthorizeRequest& request,
                                         const configwatch::ConfigView* view) {
  int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
  return Authorize(request, view, now);
}

AuthorizeResponse AuthService::Authorize(const v1::AuthorizeRequest& request,
                                         const configwatch::ConfigView* view, int64_t now_unix) {
  if (view == nullptr) {
    return Decide(AuthorizeResponse::DECISION_UNSPECIFIED, "configuration not loaded yet");
  }
  const registry::v1::Endpoint* endpoint = view->FindEndpoint(request.endpoint());
  if (endpoint == nullptr) return Decide(AuthorizeResponse::NOT_FOUND, "unknown endpoint");

  AuthorizeResponse allow;
  allow.set_decision(AuthorizeResponse::ALLOW);
  allow.set_namespace_(endpoint->namespace_());

  if (!endpoint->enable_api_key_auth()) {
    // An open endpoint still names the key's owner when one is presented and valid.
    if (!request.credential().empty()) {
      const auto* key = view->FindApiKeyBySha256(crypto::Sha256Hex(request.credential()));
      if (key != nullptr && !Expired(*key, now_unix) && ScopedTo(*key, request.endpoint())) {
        allow.set_user_email(key->user_email());
        allow.set_api_key_id(key->id());
      }
    }
    return allow;
  }
  if (request.credential().empty()) {
    return Decide(AuthorizeResponse::UNAUTHENTICATED, "an API key is required");
  }
  if (request.credential_source() == "query" && !endpoint->use_query_param_auth()) {
    return Decide(AuthorizeResponse::UNAUTHENTICATED,
                  "API keys in the query string are not enabled for this endpoint");
  }
  const auto* key = view->FindApiKeyBySha256(crypto::Sha256Hex(request.credential()));
  if (key == nullptr) return Decide(AuthorizeResponse::UNAUTHENTICATED, "invalid API key");
  if (view->FindUser(key->user_email()) == nullptr) {
    return Decide(AuthorizeResponse::UNAUTHENTICATED, "invalid API key");
  }
  if (Expired(*key, now_unix)) return Decide(AuthorizeResponse::UNAUTHENTICATED, "API key expired");
  if (!ScopedTo(*key, request.endpoint())) {
    return Decide(AuthorizeResponse::FORBIDDEN, "this API key is not valid for this endpoint");
  }
  allow.set_user_email(key->user_email());
  allow.set_api_key_id(key->id());
  return allow;
}

}  // namespace switchboard::auth
