#include "services/auth/src/auth_service.h"

#include <algorithm>

#include "services/auth/src/jwt.h"
#include "switchboard/common/crypto.h"
#include "switchboard/common/strings.h"

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

std::string_view TrimmedBase(const OauthOptions& oauth) {
  std::string_view base = oauth.public_base_url;
  while (!base.empty() && base.back() == '/') base.remove_suffix(1);
  return base;
}

// An endpoint's canonical URL (its tokens' default audience).
std::string CanonicalUrl(const OauthOptions& oauth, std::string_view endpoint) {
  return StrCat(TrimmedBase(oauth), "/metamcp/", endpoint, "/mcp");
}

// The absolute URL of an endpoint's RFC 9728 metadata document.
std::string MetadataUrl(const OauthOptions& oauth, std::string_view endpoint) {
  return StrCat(TrimmedBase(oauth), "/.well-known/oauth-protected-resource/metamcp/", endpoint,
                "/mcp");
}

// A refusal on an OAuth endpoint: it names the metadata document, and the RFC 6750 error.
AuthorizeResponse BearerRefusal(AuthorizeResponse::Decision decision, std::string reason,
                                const OauthOptions* oauth, const registry::v1::Endpoint& endpoint,
                                std::string_view bearer_error) {
  AuthorizeResponse r = Decide(decision, std::move(reason));
  if (oauth != nullptr) {
    r.set_resource_metadata_url(MetadataUrl(*oauth, endpoint.name()));
  }
  r.set_bearer_error(std::string(bearer_error));
  return r;
}

AuthorizeResponse AuthorizeBearer(const v1::AuthorizeRequest& request,
                                  const registry::v1::Endpoint& endpoint, AuthorizeResponse allow,
                                  int64_t now_unix, const OauthOptions* oauth, MissingKey* missing,
                                  int64_t* valid_until_unix) {
  using R = AuthorizeResponse;
  if (request.credential().empty()) {
    return BearerRefusal(R::UNAUTHENTICATED,
                         endpoint.enable_api_key_auth() ? "an API key or a bearer token is required"
                                                        : "a bearer token is required",
                         oauth, endpoint, "");
  }
  if (request.credential_source() != "authorization") {
    return BearerRefusal(R::UNAUTHENTICATED,
                         "a bearer token must be sent in the Authorization header", oauth, endpoint,
                         "invalid_request");
  }
  if (oauth == nullptr || !oauth->find_key) {
    return BearerRefusal(R::UNAUTHENTICATED, "bearer tokens are not accepted here", oauth, endpoint,
                         "invalid_token");
  }
  absl::StatusOr<ParsedJwt> jwt = ParseJwt(request.credential());
  if (!jwt.ok()) {
    return BearerRefusal(R::UNAUTHENTICATED, std::string(jwt.status().message()), oauth, endpoint,
                         "invalid_token");
  }
  if (jwt->kid.empty()) {
    return BearerRefusal(R::UNAUTHENTICATED, "token names no signing key (kid)", oauth, endpoint,
                         "invalid_token");
  }
  std::shared_ptr<const JwtKey> key = oauth->find_key(endpoint.oauth_jwks_url(), jwt->kid);
  if (key == nullptr) {
    if (missing != nullptr) *missing = {endpoint.oauth_jwks_url(), jwt->kid};
    return BearerRefusal(R::UNAUTHENTICATED, "token signed with an unknown key", oauth, endpoint,
                         "invalid_token");
  }
  JwtPolicy policy;
  policy.issuers.assign(endpoint.oauth_issuers().begin(), endpoint.oauth_issuers().end());
  policy.audience = endpoint.oauth_audience().empty() ? CanonicalUrl(*oauth, endpoint.name())
                                                      : endpoint.oauth_audience();
  policy.clock_skew_seconds = oauth->clock_skew_seconds;
  if (absl::Status verified = VerifyJwt(*jwt, *key, policy, now_unix); !verified.ok()) {
    return BearerRefusal(R::UNAUTHENTICATED, std::string(verified.message()), oauth, endpoint,
                         "invalid_token");
  }
  for (const std::string& scope : endpoint.oauth_required_scopes()) {
    if (std::find(jwt->scopes.begin(), jwt->scopes.end(), scope) == jwt->scopes.end()) {
      std::string all;
      for (const std::string& s : endpoint.oauth_required_scopes()) {
        all.append(StrCat(all.empty() ? "" : " ", s));
      }
      R refusal = BearerRefusal(R::FORBIDDEN, StrCat("the token lacks scope '", scope, "'"), oauth,
                                endpoint, "insufficient_scope");
      refusal.set_required_scope(std::move(all));
      return refusal;
    }
  }
  std::string principal = jwt->email.empty() ? jwt->sub : jwt->email;
  if (principal.empty()) {
    return BearerRefusal(R::UNAUTHENTICATED, "token names no subject", oauth, endpoint,
                         "invalid_token");
  }
  allow.set_user_email(std::move(principal));
  *valid_until_unix = jwt->exp;  // not exp + the skew that may still let it in
  return allow;
}

}  // namespace

v1::ResourceMetadataResponse AuthService::ResourceMetadata(const std::string& endpoint,
                                                           const configwatch::ConfigView* view,
                                                           const OauthOptions& oauth) {
  v1::ResourceMetadataResponse out;
  const registry::v1::Endpoint* ep = view == nullptr ? nullptr : view->FindEndpoint(endpoint);
  if (ep == nullptr || !ep->enable_oauth()) return out;
  out.set_found(true);
  out.set_resource(ep->oauth_audience().empty() ? CanonicalUrl(oauth, ep->name())
                                                : ep->oauth_audience());
  *out.mutable_authorization_servers() = ep->oauth_issuers();
  *out.mutable_scopes_supported() = ep->oauth_required_scopes();
  return out;
}

AuthorizeResponse AuthService::Authorize(const v1::AuthorizeRequest& request,
                                         const configwatch::ConfigView* view, int64_t now_unix,
                                         const OauthOptions* oauth, MissingKey* missing,
                                         int64_t* valid_until_unix) {
  int64_t ignored_until = 0;
  if (valid_until_unix == nullptr) valid_until_unix = &ignored_until;
  *valid_until_unix = 0;
  if (view == nullptr) {
    return Decide(AuthorizeResponse::DECISION_UNSPECIFIED, "configuration not loaded yet");
  }
  const registry::v1::Endpoint* endpoint = view->FindEndpoint(request.endpoint());
  if (endpoint == nullptr) return Decide(AuthorizeResponse::NOT_FOUND, "unknown endpoint");

  AuthorizeResponse allow;
  allow.set_decision(AuthorizeResponse::ALLOW);
  allow.set_namespace_(endpoint->namespace_());

  if (endpoint->enable_oauth()) {
    if (request.credential().empty() ||
        (request.credential_source() == "authorization" && LooksLikeJwt(request.credential())) ||
        !endpoint->enable_api_key_auth()) {
      return AuthorizeBearer(request, *endpoint, std::move(allow), now_unix, oauth, missing,
                             valid_until_unix);
    }
  }
  if (!endpoint->enable_api_key_auth() && !endpoint->enable_oauth()) {
    // An open endpoint still names the key's owner when one is presented and valid.
    if (!request.credential().empty()) {
      const auto* key = view->FindApiKeyBySha256(crypto::Sha256Hex(request.credential()));
      if (key != nullptr && !Expired(*key, now_unix) && ScopedTo(*key, request.endpoint())) {
        allow.set_user_email(key->user_email());
        allow.set_api_key_id(key->id());
        *valid_until_unix = key->expires_unix();  // then it names no one
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
  *valid_until_unix = key->expires_unix();
  return allow;
}

int64_t AuthService::ReuseMs(int64_t max_ms, int64_t valid_until_unix, int64_t now_ms) {
  if (max_ms <= 0) return 0;
  if (valid_until_unix <= 0) return max_ms;
  return std::clamp<int64_t>(valid_until_unix * 1000 - now_ms, 0, max_ms);
}

}  // namespace switchboard::auth
