#include "services/auth/src/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>

#include "switchboard/common/crypto.h"
#include "switchboard/common/strings.h"

namespace switchboard::auth {
namespace {

namespace json = boost::json;

constexpr size_t kMaxTokenBytes = 16 * 1024;
constexpr int kMinRsaBits = 2048;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using BnPtr = std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>>;
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, Deleter<EVP_PKEY_CTX, EVP_PKEY_CTX_free>>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX, EVP_MD_CTX_free>>;
using ParamBldPtr = std::unique_ptr<OSSL_PARAM_BLD, Deleter<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>>;
using ParamPtr = std::unique_ptr<OSSL_PARAM, Deleter<OSSL_PARAM, OSSL_PARAM_free>>;
using EcSigPtr = std::unique_ptr<ECDSA_SIG, Deleter<ECDSA_SIG, ECDSA_SIG_free>>;

const json::string* StringMember(const json::object& o, std::string_view name) {
  const json::value* v = o.if_contains(name);
  return v == nullptr ? nullptr : v->if_string();
}

std::optional<std::string> B64Member(const json::object& o, std::string_view name) {
  const json::string* s = StringMember(o, name);
  if (s == nullptr) return std::nullopt;
  return crypto::Base64UrlDecode(std::string_view(s->data(), s->size()));
}

PkeyPtr FromData(const char* type, OSSL_PARAM_BLD* bld) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0) return nullptr;
  EVP_PKEY* pkey = nullptr;
  if (EVP_PKEY_fromdata(ctx.get(), &pkey, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) return nullptr;
  return PkeyPtr(pkey);
}

PkeyPtr RsaKey(const json::object& jwk) {
  auto n = B64Member(jwk, "n");
  auto e = B64Member(jwk, "e");
  if (!n || !e || n->empty() || e->empty() || e->size() > 8) return nullptr;
  BnPtr bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()),
                       static_cast<int>(n->size()), nullptr));
  BnPtr bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()),
                       static_cast<int>(e->size()), nullptr));
  if (!bn_n || !bn_e || BN_num_bits(bn_n.get()) < kMinRsaBits) return nullptr;
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    return nullptr;
  }
  return FromData("RSA", bld.get());
}

PkeyPtr EcP256Key(const json::object& jwk) {
  const json::string* crv = StringMember(jwk, "crv");
  auto x = B64Member(jwk, "x");
  auto y = B64Member(jwk, "y");
  if (crv == nullptr || *crv != "P-256" || !x || !y || x->size() != 32 || y->size() != 32) {
    return nullptr;
  }
  std::string point = StrCat(std::string_view("\x04", 1), *x, *y);
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  char group[] = "prime256v1";
  if (!bld || !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, group, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return nullptr;
  }
  // Importing checks that the point lies on the curve.
  return FromData("EC", bld.get());
}

// True when alg is one the verifier accepts.
bool IsAcceptedJwtAlg(std::string_view alg) { return alg == "RS256" || alg == "ES256"; }

bool IsBase64UrlPart(std::string_view part) {
  if (part.empty()) return false;
  return std::all_of(part.begin(), part.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
  });
}

std::optional<json::object> DecodeJsonPart(std::string_view part) {
  auto bytes = crypto::Base64UrlDecode(part);
  if (!bytes) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(*bytes, ec);
  if (ec || !v.is_object()) return std::nullopt;
  return std::move(v.as_object());
}

// A NumericDate claim: a JSON number of seconds (fractions dropped). False when present but not
// a number.
bool ReadTime(const json::object& o, std::string_view name, bool* has, int64_t* out) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr) return true;
  if (v->is_int64()) {
    *out = v->as_int64();
  } else if (v->is_uint64()) {
    *out = static_cast<int64_t>(std::min<uint64_t>(v->as_uint64(), INT64_MAX));
  } else if (v->is_double() && std::isfinite(v->as_double())) {
    double d = std::clamp(v->as_double(), -9.0e18, 9.0e18);
    *out = static_cast<int64_t>(d);
  } else {
    return false;
  }
  *has = true;
  return true;
}

void SplitScopes(std::string_view text, std::vector<std::string>* out) {
  for (std::string& s : SplitList(text, ' ')) out->push_back(std::move(s));
}

bool VerifySignature(const ParsedJwt& jwt, const JwtKey& key) {
  std::string_view signature = jwt.signature;
  std::string der_signature;
  if (jwt.alg == "ES256") {
    // JWS carries r || s, 32 bytes each; OpenSSL verifies the DER form.
    if (signature.size() != 64) return false;
    const auto* raw = reinterpret_cast<const unsigned char*>(jwt.signature.data());
    EcSigPtr sig(ECDSA_SIG_new());
    BIGNUM* r = BN_bin2bn(raw, 32, nullptr);
    BIGNUM* s = BN_bin2bn(raw + 32, 32, nullptr);
    if (!sig || r == nullptr || s == nullptr || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
      BN_free(r);
      BN_free(s);
      return false;
    }
    unsigned char* der = nullptr;
    int len = i2d_ECDSA_SIG(sig.get(), &der);
    if (len <= 0) return false;
    der_signature.assign(reinterpret_cast<const char*>(der), static_cast<size_t>(len));
    OPENSSL_free(der);
    signature = der_signature;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key.pkey()) != 1) {
    return false;
  }
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(),
                          reinterpret_cast<const unsigned char*>(jwt.signing_input.data()),
                          jwt.signing_input.size()) == 1;
}

}  // namespace

JwtKey::~JwtKey() { EVP_PKEY_free(pkey_); }

absl::StatusOr<JwtKeySet> ParseJwks(std::string_view text) {
  boost::system::error_code ec;
  json::value doc = json::parse(text, ec);
  const json::array* keys = nullptr;
  if (!ec && doc.is_object()) {
    if (const json::value* k = doc.as_object().if_contains("keys")) keys = k->if_array();
  }
  if (keys == nullptr) return absl::InvalidArgumentError("not a JWK Set: no \"keys\" list");
  JwtKeySet out;
  for (const json::value& v : *keys) {
    const json::object* jwk = v.if_object();
    if (jwk == nullptr) continue;
    const json::string* kid = StringMember(*jwk, "kid");
    const json::string* kty = StringMember(*jwk, "kty");
    const json::string* use = StringMember(*jwk, "use");
    const json::string* alg = StringMember(*jwk, "alg");
    if (kid == nullptr || kid->empty() || kty == nullptr) continue;
    if (use != nullptr && *use != "sig") continue;
    std::string key_alg;
    PkeyPtr pkey;
    if (*kty == "RSA") {
      key_alg = "RS256";
      pkey = RsaKey(*jwk);
    } else if (*kty == "EC") {
      key_alg = "ES256";
      pkey = EcP256Key(*jwk);
    }
    if (!pkey || (alg != nullptr && *alg != key_alg)) continue;
    out[std::string(kid->data(), kid->size())] =
        std::make_shared<const JwtKey>(key_alg, pkey.release());
  }
  return out;
}

bool LooksLikeJwt(std::string_view credential) {
  size_t first = credential.find('.');
  if (first == std::string_view::npos) return false;
  size_t second = credential.find('.', first + 1);
  if (second == std::string_view::npos ||
      credential.find('.', second + 1) != std::string_view::npos) {
    return false;
  }
  return IsBase64UrlPart(credential.substr(0, first)) &&
         IsBase64UrlPart(credential.substr(first + 1, second - first - 1));
}

absl::StatusOr<ParsedJwt> ParseJwt(std::string_view token) {
  auto malformed = [] { return absl::InvalidArgumentError("malformed token"); };
  if (token.size() > kMaxTokenBytes || !LooksLikeJwt(token)) return malformed();
  size_t first = token.find('.');
  size_t second = token.find('.', first + 1);
  std::optional<json::object> header = DecodeJsonPart(token.substr(0, first));
  std::optional<json::object> claims = DecodeJsonPart(token.substr(first + 1, second - first - 1));
  std::string_view sig_part = token.substr(second + 1);
  std::optional<std::string> signature = crypto::Base64UrlDecode(sig_part);
  if (!header || !claims || !signature) return malformed();

  ParsedJwt jwt;
  const json::string* alg = StringMember(*header, "alg");
  if (alg == nullptr) return malformed();
  jwt.alg = std::string(alg->data(), alg->size());
  if (!IsAcceptedJwtAlg(jwt.alg)) {
    return absl::InvalidArgumentError("token algorithm not accepted (RS256 or ES256 only)");
  }
  if (header->contains("crit")) {
    return absl::InvalidArgumentError("token has critical header parameters");
  }
  if (const json::string* kid = StringMember(*header, "kid")) {
    jwt.kid = std::string(kid->data(), kid->size());
  }
  if (const json::string* iss = StringMember(*claims, "iss")) jwt.iss = std::string(*iss);
  if (const json::string* sub = StringMember(*claims, "sub")) jwt.sub = std::string(*sub);
  if (const json::string* email = StringMember(*claims, "email")) jwt.email = std::string(*email);
  if (const json::value* aud = claims->if_contains("aud")) {
    if (const json::string* one = aud->if_string()) {
      jwt.aud.emplace_back(*one);
    } else if (const json::array* many = aud->if_array()) {
      for (const json::value& a : *many) {
        if (const json::string* s = a.if_string()) jwt.aud.emplace_back(*s);
      }
    }
  }
  if (const json::string* scope = StringMember(*claims, "scope")) {
    SplitScopes(*scope, &jwt.scopes);
  }
  if (const json::value* scp = claims->if_contains("scp")) {
    if (const json::string* one = scp->if_string()) {
      SplitScopes(*one, &jwt.scopes);
    } else if (const json::array* many = scp->if_array()) {
      for (const json::value& s : *many) {
        if (const json::string* str = s.if_string()) jwt.scopes.emplace_back(*str);
      }
    }
  }
  if (!ReadTime(*claims, "exp", &jwt.has_exp, &jwt.exp) ||
      !ReadTime(*claims, "nbf", &jwt.has_nbf, &jwt.nbf)) {
    return malformed();
  }
  jwt.signing_input = std::string(token.substr(0, second));
  jwt.signature = std::move(*signature);
  return jwt;
}

absl::Status VerifyJwt(const ParsedJwt& jwt, const JwtKey& key, const JwtPolicy& policy,
                       int64_t now_unix) {
  if (!IsAcceptedJwtAlg(jwt.alg) || jwt.alg != key.alg()) {
    return absl::UnauthenticatedError("token algorithm does not match its key");
  }
  if (!VerifySignature(jwt, key)) return absl::UnauthenticatedError("invalid token signature");
  if (std::find(policy.issuers.begin(), policy.issuers.end(), jwt.iss) == policy.issuers.end()) {
    return absl::UnauthenticatedError("token issuer not accepted");
  }
  if (std::find(jwt.aud.begin(), jwt.aud.end(), policy.audience) == jwt.aud.end()) {
    return absl::UnauthenticatedError("token audience is not this endpoint");
  }
  if (!jwt.has_exp) return absl::UnauthenticatedError("token has no expiry");
  // The claims are compared, never added to (they may be any 64-bit number).
  if (jwt.exp <= now_unix - policy.clock_skew_seconds) {
    return absl::UnauthenticatedError("token expired");
  }
  if (jwt.has_nbf && jwt.nbf > now_unix + policy.clock_skew_seconds) {
    return absl::UnauthenticatedError("token not valid yet");
  }
  return absl::OkStatus();
}

}  // namespace switchboard::auth
