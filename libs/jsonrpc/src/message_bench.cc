// How much a hop pays to read and rewrite one message: the envelope scan and in-place id
// swap every hop does, against a full Boost.JSON parse and re-serialize.
#include <benchmark/benchmark.h>

#include <boost/json.hpp>
#include <string>

#include "switchboard/jsonrpc/message.h"

namespace {

using namespace switchboard::jsonrpc;

std::string Call() {
  return R"({"jsonrpc":"2.0","id":12345,"method":"tools/call","params":{"name":"everything__echo","arguments":{"message":"hello from the benchmark"},"_meta":{"progressToken":"abc"}}})";
}

std::string BigResult() {
  std::string text(16 * 1024, 'x');
  return std::string(R"({"jsonrpc":"2.0","id":7,"result":{"content":[{"type":"text","text":")") +
         text + R"("}]}})";
}

void BM_ScanAndSwapId(benchmark::State& state, std::string message) {
  for (auto _ : state) {
    Envelope env;
    ScanError err;
    bool ok = Scan(message, &env, &err);
    std::string out = Replace(message, env.id, "99");
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message.size()));
}

void BM_BoostJsonParseAndSerialize(benchmark::State& state, std::string message) {
  for (auto _ : state) {
    boost::json::value v = boost::json::parse(message);
    v.as_object()["id"] = 99;
    std::string out = boost::json::serialize(v);
    benchmark::DoNotOptimize(out);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * message.size()));
}

BENCHMARK_CAPTURE(BM_ScanAndSwapId, tools_call, Call());
BENCHMARK_CAPTURE(BM_BoostJsonParseAndSerialize, tools_call, Call());
BENCHMARK_CAPTURE(BM_ScanAndSwapId, result_16k, BigResult());
BENCHMARK_CAPTURE(BM_BoostJsonParseAndSerialize, result_16k, BigResult());

}  // namespace
