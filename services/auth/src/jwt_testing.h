#pragma once

// Test helpers: signing keys generated in the test, their JWK form, and tokens they sign.

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>

#include <boost/json.hpp>
#include <memory>
#include <stdexcept>
#include <string>

#include "switchboard/common/crypto.h"

namespace switchboard::auth::testing {

// A freshly generated private key: RSA 2048 (RS256) or EC P-256 (ES256).
class TestKey {
 public:
  static TestKey Rsa(std::string kid) { return TestKey(EVP_RSA_gen(2048), "RS256", std::move(kid)); }
  static TestKey Ec(std::string kid) { return TestKey(EVP_EC_gen("P-256"), "ES256", std::move(kid)); }

  const std::string& kid() const { return kid_; }
  const std::string& alg() const { return alg_; }

  // The public key as a JWK object.
  boost::json::object Jwk() const {
    boost::json::object jwk;
    jwk["kid"] = kid_;
    jwk["use"] = "sig";
    jwk["alg"] = alg_;
    if (alg_ == "RS256") {
      jwk["kty"] = "RSA";
      jwk["n"] = crypto::Base64UrlEncode(Bn(OSSL_PKEY_PARAM_RSA_N));
      jwk["e"] = crypto::Base64UrlEncode(Bn(OSSL_PKEY_PARAM_RSA_E));
    } else {
      unsigned char point[65];
      size_t len = 0;
      if (EVP_PKEY_get_octet_string_param(pkey_.get(), OSSL_PKEY_PARAM_PUB_KEY, point,
                                          sizeof(point), &len) != 1 ||
          len != 65) {
        throw std::runtime_error("EC public key");
      }
      jwk["kty"] = "EC";
      jwk["crv"] = "P-256";
      jwk["x"] = crypto::Base64UrlEncode(std::string(reinterpret_cast<char*>(point + 1), 32));
      jwk["y"] = crypto::Base64UrlEncode(std::string(reinterpret_cast<char*>(point + 33), 32));
    }
    return jwk;
  }

  // The JWS signature of `input` with this key, in JOSE form (ES256: r || s).
  std::string Sign(const std::string& input) const {
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
    size_t len = 0;
    if (EVP_DigestSignInit(ctx.get(), nullptr, EVP_sha256(), nullptr, pkey_.get()) != 1 ||
        EVP_DigestSign(ctx.get(), nullptr, &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
      throw std::runtime_error("sign");
    }
    std::string sig(len, '\0');
    if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(sig.data()), &len,
                       reinterpret_cast<const unsigned char*>(input.data()), input.size()) != 1) {
      throw std::runtime_error("sign");
    }
    sig.resize(len);
    if (alg_ != "ES256") return sig;
    const auto* der = reinterpret_cast<const unsigned char*>(sig.data());
    ECDSA_SIG* ecsig = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(sig.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(ecsig), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(ecsig), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(ecsig);
    return raw;
  }

 private:
  TestKey(EVP_PKEY* pkey, std::string alg, std::string kid)
      : pkey_(pkey, EVP_PKEY_free), alg_(std::move(alg)), kid_(std::move(kid)) {
    if (pkey == nullptr) throw std::runtime_error("key generation failed");
  }

  std::string Bn(const char* name) const {
    BIGNUM* bn = nullptr;
    if (EVP_PKEY_get_bn_param(pkey_.get(), name, &bn) != 1) throw std::runtime_error("bn");
    std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
    BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
    BN_free(bn);
    return out;
  }

  std::shared_ptr<EVP_PKEY> pkey_;
  std::string alg_;
  std::string kid_;
};

// A JWK Set document holding the public halves of `keys`.
inline std::string JwksOf(std::initializer_list<const TestKey*> keys) {
  boost::json::array list;
  for (const TestKey* k : keys) list.push_back(k->Jwk());
  return boost::json::serialize(boost::json::object{{"keys", std::move(list)}});
}

// A compact JWS of `claims` with header {alg, kid, typ} (`header` overrides), signed by `key`.
inline std::string MakeJwt(const TestKey& key, const boost::json::object& claims,
                           boost::json::object header = {}) {
  if (!header.contains("alg")) header["alg"] = key.alg();
  if (!header.contains("kid")) header["kid"] = key.kid();
  header["typ"] = "JWT";
  std::string input = crypto::Base64UrlEncode(boost::json::serialize(header)) + "." +
                      crypto::Base64UrlEncode(boost::json::serialize(claims));
  return input + "." + crypto::Base64UrlEncode(key.Sign(input));
}

}  // namespace switchboard::auth::testing
