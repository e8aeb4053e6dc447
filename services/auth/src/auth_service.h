#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "switchboard/auth/v1/auth.pb.h"
#include "switchboard/configwatch/config_view.h"

namespace switchboard::auth {

class JwtKey;

// What OAuth endpoints need from the service: where clients reach the edge, the tolerance on
// token times, and the signing keys auth holds (never fetched on this path).
struct OauthOptions {
  // The edge's public base URL ("https://mcp.example.com"): an endpoint's canonical URL, the
  // audience of its tokens, is this + "/metamcp/{name}/mcp".
  std::string public_base_url = "http://127.0.0.1:12008";
  int64_t clock_skew_seconds = 60;
  // The key `kid` of the JWK Set at `jwks_url` when auth holds it, else nullptr.
  std::function<std::shared_ptr<const JwtKey>(const std::string& jwks_url, const std::string& kid)>
      find_key;
};

// Set by Authorize when a token names a key that auth does not hold: fetching the set again
// may let the token in.
struct MissingKey {
  std::string jwks_url;
  std::string kid;
};

// Decides who is calling an endpoint and whether they may, from the Watch-fed configuration
// alone: no database or network on this path. Keys are compared by their SHA-256, the only
// form the configuration holds.
class AuthService {
 public:
  // Returns the decision for one request against the configuration `view` (which may be null
  // before the first snapshot: then every request is refused as unavailable).
  // A key past its expiry (at `now_unix`, seconds) is refused like an unknown one; a key
  // scoped to other endpoints is refused as forbidden.
  // Bearer JWTs are accepted on OAuth endpoints only with `oauth` (null: none are). On an OAuth
  // endpoint a credential in `Authorization: Bearer` that has the form of a JWT is checked as
  // one (signature with the endpoint's JWKS, iss, aud = the canonical URL or the endpoint's
  // oauth_audience, exp/nbf within the skew, then the required scopes: FORBIDDEN
  // insufficient_scope); anything else is an API key when the endpoint takes them. The principal
  // is the token's email, else its sub. Refusals on OAuth endpoints carry the metadata URL.
  // `missing` (optional) is set when the token's kid is not among the keys held.
  // `valid_until_unix` (optional) is set on an ALLOW to when the credential it rests on stops
  // being accepted (the API key's expiry, the token's exp; seconds), 0 when nothing ends it.
  static v1::AuthorizeResponse Authorize(const v1::AuthorizeRequest& request,
                                         const configwatch::ConfigView* view, int64_t now_unix,
                                         const OauthOptions* oauth = nullptr,
                                         MissingKey* missing = nullptr,
                                         int64_t* valid_until_unix = nullptr);
  // How long (ms) an ALLOW may be given again without deciding anew: `max_ms`, cut to what is
  // left at `now_ms` (unix milliseconds) before `valid_until_unix` (0: no end), never below 0.
  static int64_t ReuseMs(int64_t max_ms, int64_t valid_until_unix, int64_t now_ms);
  // The RFC 9728 metadata of an OAuth endpoint; found = false for any other name.
  static v1::ResourceMetadataResponse ResourceMetadata(const std::string& endpoint,
                                                       const configwatch::ConfigView* view,
                                                       const OauthOptions& oauth);
};

}  // namespace switchboard::auth
