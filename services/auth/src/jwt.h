#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

typedef struct evp_pkey_st EVP_PKEY;

namespace switchboard::auth {

// A public signing key from a JWK Set, usable with one JWS algorithm: RS256 (an RSA key of
// 2048 bits or more) or ES256 (an EC key on P-256). Immutable; shared between threads.
class JwtKey {
 public:
  JwtKey(std::string alg, EVP_PKEY* pkey) : alg_(std::move(alg)), pkey_(pkey) {}
  ~JwtKey();
  JwtKey(const JwtKey&) = delete;
  JwtKey& operator=(const JwtKey&) = delete;

  const std::string& alg() const { return alg_; }
  EVP_PKEY* pkey() const { return pkey_; }

 private:
  std::string alg_;
  EVP_PKEY* pkey_;
};

// A JWK Set's usable keys by `kid`.
using JwtKeySet = std::map<std::string, std::shared_ptr<const JwtKey>, std::less<>>;

// Reads a JWK Set document ({"keys": [...]}). Keeps RSA keys (n, e) and EC P-256 keys (x, y)
// that have a `kid`, whose `use` (if any) is "sig" and whose `alg` (if any) is RS256 or ES256;
// skips every other key. An error when the document is not a JWK Set at all.
absl::StatusOr<JwtKeySet> ParseJwks(std::string_view json);

// True when `credential` has the form of a JWS compact serialization: three base64url parts
// separated by dots (an API key never has it).
bool LooksLikeJwt(std::string_view credential);

// A token split and decoded, its signature not yet checked.
struct ParsedJwt {
  std::string alg;
  std::string kid;
  std::string iss;
  std::string sub;
  std::string email;
  std::vector<std::string> aud;
  std::vector<std::string> scopes;  // `scope` (space-separated) or `scp` (a list or a string)
  bool has_exp = false;
  int64_t exp = 0;
  bool has_nbf = false;
  int64_t nbf = 0;
  std::string signing_input;  // "<header>.<payload>" as received
  std::string signature;      // decoded
};

// Splits and decodes a compact JWS whose header and claims are JSON objects. The error says
// what is wrong in words safe to show the client (never the token).
absl::StatusOr<ParsedJwt> ParseJwt(std::string_view token);

// What a token must satisfy besides its signature.
struct JwtPolicy {
  std::vector<std::string> issuers;  // `iss` must be one of them
  std::string audience;              // `aud` (a string or a list) must hold it
  int64_t clock_skew_seconds = 60;   // tolerance on exp and nbf
};

// Checks a parsed token: its alg is RS256 or ES256 and matches `key`, the signature verifies,
// `iss` and `aud` match `policy`, `exp` is present and not past, `nbf` (if any) is not ahead,
// each within the skew, at `now_unix`. The error is the reason, safe to show the client.
absl::Status VerifyJwt(const ParsedJwt& jwt, const JwtKey& key, const JwtPolicy& policy,
                       int64_t now_unix);

}  // namespace switchboard::auth
