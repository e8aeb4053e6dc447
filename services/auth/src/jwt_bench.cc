// What one bearer token costs auth on the request path: split and decode it, then check its
// signature and claims, for RS256 (RSA 2048) and ES256 (P-256).
#include <benchmark/benchmark.h>

#include "services/auth/src/jwt.h"
#include "services/auth/src/jwt_testing.h"

namespace {

using namespace switchboard::auth;

void BM_VerifyToken(benchmark::State& state, bool ec) {
  testing::TestKey key = ec ? testing::TestKey::Ec("k") : testing::TestKey::Rsa("k");
  JwtKeySet keys = ParseJwks(testing::JwksOf({&key})).value();
  const int64_t now = 1795000000;
  std::string token = testing::MakeJwt(
      key, {{"iss", "https://login.example.com"}, {"aud", "https://mcp.example.com/metamcp/t/mcp"},
            {"sub", "u"}, {"exp", now + 600}, {"scope", "mcp:tools"}});
  JwtPolicy policy{{"https://login.example.com"}, "https://mcp.example.com/metamcp/t/mcp", 60};
  for (auto _ : state) {
    absl::StatusOr<ParsedJwt> jwt = ParseJwt(token);
    absl::Status ok = VerifyJwt(*jwt, *keys.at("k"), policy, now);
    if (!ok.ok()) state.SkipWithError("token refused");
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK_CAPTURE(BM_VerifyToken, rs256, false);
BENCHMARK_CAPTURE(BM_VerifyToken, es256, true);

}  // namespace
