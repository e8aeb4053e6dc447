#include "services/auth/src/jwt.h"

#include <gtest/gtest.h>
#include <openssl/hmac.h>

#include "services/auth/src/jwt_testing.h"

namespace switchboard::auth {
namespace {

using testing::JwksOf;
using testing::MakeJwt;
using testing::TestKey;

constexpr int64_t kNow = 1795000000;
constexpr char kIssuer[] = "https://login.example.com";
constexpr char kAudience[] = "https://mcp.example.com/metamcp/team/mcp";

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new TestKey(TestKey::Rsa("rsa-1"));
    ec_ = new TestKey(TestKey::Ec("ec-1"));
    other_ = new TestKey(TestKey::Rsa("rsa-1"));  // same kid, different key
  }
  static void TearDownTestSuite() {
    delete rsa_;
    delete ec_;
    delete other_;
  }

  static boost::json::object Claims() {
    return {{"iss", kIssuer}, {"aud", kAudience}, {"sub", "user-42"},
            {"email", "dev@example.com"}, {"exp", kNow + 300}, {"nbf", kNow - 10},
            {"scope", "mcp:tools read"}};
  }

  static JwtPolicy Policy() {
    JwtPolicy p;
    p.issuers = {"https://other.example.com", kIssuer};
    p.audience = kAudience;
    p.clock_skew_seconds = 30;
    return p;
  }

  // Parses `token` and verifies it against the held keys (rsa_ and ec_ by kid).
  static absl::Status Check(const std::string& token, int64_t now = kNow) {
    absl::StatusOr<ParsedJwt> jwt = ParseJwt(token);
    if (!jwt.ok()) return jwt.status();
    absl::StatusOr<JwtKeySet> keys = ParseJwks(JwksOf({rsa_, ec_}));
    if (!keys.ok()) return keys.status();
    auto key = keys->find(jwt->kid);
    if (key == keys->end()) return absl::NotFoundError("unknown kid");
    return VerifyJwt(*jwt, *key->second, Policy(), now);
  }

  static TestKey* rsa_;
  static TestKey* ec_;
  static TestKey* other_;
};

TestKey* JwtTest::rsa_ = nullptr;
TestKey* JwtTest::ec_ = nullptr;
TestKey* JwtTest::other_ = nullptr;

std::string Part(const boost::json::object& o) {
  return crypto::Base64UrlEncode(boost::json::serialize(o));
}

TEST_F(JwtTest, ValidRs256AndEs256TokensPassAndYieldTheirClaims) {
  EXPECT_TRUE(Check(MakeJwt(*rsa_, Claims())).ok()) << Check(MakeJwt(*rsa_, Claims()));
  EXPECT_TRUE(Check(MakeJwt(*ec_, Claims())).ok()) << Check(MakeJwt(*ec_, Claims()));
  auto jwt = ParseJwt(MakeJwt(*ec_, Claims()));
  ASSERT_TRUE(jwt.ok());
  EXPECT_EQ(jwt->alg, "ES256");
  EXPECT_EQ(jwt->kid, "ec-1");
  EXPECT_EQ(jwt->email, "dev@example.com");
  EXPECT_EQ(jwt->sub, "user-42");
  EXPECT_EQ(jwt->scopes, (std::vector<std::string>{"mcp:tools", "read"}));
}

TEST_F(JwtTest, ExpiredAndNotYetValidTokensAreRefusedOutsideTheSkew) {
  auto claims = Claims();
  claims["exp"] = kNow - 31;
  EXPECT_EQ(Check(MakeJwt(*rsa_, claims)).message(), "token expired");
  claims["exp"] = kNow - 29;  // within the 30 s skew
  EXPECT_TRUE(Check(MakeJwt(*rsa_, claims)).ok());

  claims = Claims();
  claims["nbf"] = kNow + 31;
  EXPECT_EQ(Check(MakeJwt(*ec_, claims)).message(), "token not valid yet");
  claims["nbf"] = kNow + 29;
  EXPECT_TRUE(Check(MakeJwt(*ec_, claims)).ok());

  claims = Claims();
  claims.erase("exp");
  EXPECT_EQ(Check(MakeJwt(*rsa_, claims)).message(), "token has no expiry");
  claims["exp"] = "tomorrow";
  EXPECT_EQ(Check(MakeJwt(*rsa_, claims)).message(), "malformed token");
  claims["exp"] = INT64_MAX;  // far future, no overflow
  EXPECT_TRUE(Check(MakeJwt(*rsa_, claims)).ok());
}

TEST_F(JwtTest, WrongAudienceOrIssuerIsRefused) {
  auto claims = Claims();
  claims["aud"] = "https://mcp.example.com/metamcp/other/mcp";
  EXPECT_EQ(Check(MakeJwt(*rsa_, claims)).message(), "token audience is not this endpoint");
  claims["aud"] = boost::json::array{"https://api.example.com", kAudience};
  EXPECT_TRUE(Check(MakeJwt(*rsa_, claims)).ok());
  claims.erase("aud");
  EXPECT_EQ(Check(MakeJwt(*rsa_, claims)).message(), "token audience is not this endpoint");

  claims = Claims();
  claims["iss"] = "https://login.example.com.evil.example";
  EXPECT_EQ(Check(MakeJwt(*ec_, claims)).message(), "token issuer not accepted");
  claims.erase("iss");
  EXPECT_EQ(Check(MakeJwt(*ec_, claims)).message(), "token issuer not accepted");
}

TEST_F(JwtTest, AlgNoneAndHs256AreRefused) {
  std::string unsigned_token =
      Part({{"alg", "none"}, {"kid", "rsa-1"}, {"typ", "JWT"}}) + "." + Part(Claims()) + ".";
  EXPECT_EQ(ParseJwt(unsigned_token).status().message(),
            "token algorithm not accepted (RS256 or ES256 only)");
  EXPECT_EQ(ParseJwt(unsigned_token + "c2ln").status().message(),
            "token algorithm not accepted (RS256 or ES256 only)");

  // HS256 keyed with the RSA public key as the shared secret: the classic confusion attack.
  std::string input = Part({{"alg", "HS256"}, {"kid", "rsa-1"}}) + "." + Part(Claims());
  std::string secret = boost::json::serialize(rsa_->Jwk());
  unsigned char mac[32];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &len);
  std::string token = input + "." + crypto::Base64UrlEncode(std::string(reinterpret_cast<char*>(mac), len));
  EXPECT_EQ(ParseJwt(token).status().message(),
            "token algorithm not accepted (RS256 or ES256 only)");

  // RS256 in the header over the EC key, or the other way round: the key decides.
  std::string swapped = MakeJwt(*ec_, Claims(), {{"alg", "RS256"}});
  EXPECT_EQ(Check(swapped).message(), "token algorithm does not match its key");
}

TEST_F(JwtTest, TamperedOrForeignSignaturesAreRefused) {
  std::string token = MakeJwt(*rsa_, Claims());
  // Another payload under the original signature.
  auto claims = Claims();
  claims["email"] = "admin@example.com";
  size_t first = token.find('.');
  size_t second = token.find('.', first + 1);
  std::string tampered = token.substr(0, first + 1) + Part(claims) + token.substr(second);
  EXPECT_EQ(Check(tampered).message(), "invalid token signature");
  // A flipped signature byte.
  std::string flipped = token;
  flipped[second + 5] = flipped[second + 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Check(flipped).message(), "invalid token signature");
  // Signed by a key with the same kid that the set does not hold.
  EXPECT_EQ(Check(MakeJwt(*other_, Claims())).message(), "invalid token signature");
  // ES256 with a signature of the wrong length.
  std::string ec = MakeJwt(*ec_, Claims());
  EXPECT_EQ(Check(ec.substr(0, ec.rfind('.') + 1) + crypto::Base64UrlEncode(std::string(63, 'x')))
                .message(),
            "invalid token signature");
}

TEST_F(JwtTest, MalformedTokensAreRefusedWithoutEchoingThem) {
  for (const std::string& bad :
       {std::string(""), std::string("sk_sb_0123"), std::string("a.b"), std::string("a.b.c.d"),
        std::string("!!.e30.x"), Part({{"alg", "RS256"}}) + ".bm90IGpzb24.x",
        std::string(20000, 'a') + ".e30.x"}) {
    absl::StatusOr<ParsedJwt> jwt = ParseJwt(bad);
    EXPECT_FALSE(jwt.ok()) << bad.substr(0, 40);
    if (!jwt.ok() && !bad.empty()) {
      EXPECT_EQ(std::string(jwt.status().message()).find(bad), std::string::npos);
    }
  }
  EXPECT_TRUE(LooksLikeJwt(MakeJwt(*rsa_, Claims())));
  EXPECT_FALSE(LooksLikeJwt("sk_sb_0123456789abcdef"));
}

TEST_F(JwtTest, JwksKeepsOnlyUsableSigningKeys) {
  boost::json::object small_rsa = rsa_->Jwk();
  small_rsa["kid"] = "small";
  small_rsa["n"] = crypto::Base64UrlEncode(std::string(128, '\xff'));  // 1024 bits
  boost::json::object off_curve = ec_->Jwk();
  off_curve["kid"] = "off-curve";
  off_curve["y"] = crypto::Base64UrlEncode(std::string(32, '\x01'));
  boost::json::object enc = rsa_->Jwk();
  enc["kid"] = "enc";
  enc["use"] = "enc";
  boost::json::object hmac{{"kty", "oct"}, {"kid", "hmac"}, {"k", "c2VjcmV0"}};
  boost::json::object no_kid = ec_->Jwk();
  no_kid.erase("kid");
  boost::json::object wrong_alg = ec_->Jwk();
  wrong_alg["kid"] = "wrong-alg";
  wrong_alg["alg"] = "RS256";
  boost::json::array keys{rsa_->Jwk(), ec_->Jwk(), small_rsa, off_curve, enc, hmac, no_kid,
                          wrong_alg, "junk"};
  auto set = ParseJwks(boost::json::serialize(boost::json::object{{"keys", keys}}));
  ASSERT_TRUE(set.ok()) << set.status();
  ASSERT_EQ(set->size(), 2u);
  EXPECT_EQ(set->at("rsa-1")->alg(), "RS256");
  EXPECT_EQ(set->at("ec-1")->alg(), "ES256");

  EXPECT_FALSE(ParseJwks("[]").ok());
  EXPECT_FALSE(ParseJwks("<html>").ok());
  EXPECT_FALSE(ParseJwks(R"({"keys": {}})").ok());
}

}  // namespace
}  // namespace switchboard::auth
