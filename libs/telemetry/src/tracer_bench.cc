// What one span costs a request path: tracing off, on but not sampled, and sampled (queued for
// export to a collector that is never reached, so the queue drops once full).
#include <benchmark/benchmark.h>

#include "switchboard/jsonrpc/message.h"
#include "switchboard/telemetry/mcp_meta.h"
#include "switchboard/telemetry/tracer.h"

namespace switchboard::telemetry {
namespace {

constexpr char kParent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

void RunSpans(benchmark::State& state, Tracer& tracer) {
  SpanContext parent = *ParseTraceparent(kParent);
  for (auto _ : state) {
    Span span = tracer.StartSpan("router tools/call", SpanKind::kServer, parent);
    span.SetAttribute("mcp.method.name", "tools/call");
    span.SetAttribute("gen_ai.tool.name", "everything__echo");
    span.SetAttribute("http.response.status_code", 200);
    benchmark::DoNotOptimize(span.Headers());
  }
}

TracerConfig Enabled(SamplerConfig::Root root) {
  TracerConfig config;
  config.enabled = true;
  config.endpoint = "http://127.0.0.1:9/v1/traces";
  config.sampler = {root, 1.0, /*parent_based=*/false};
  config.schedule_delay = std::chrono::milliseconds(100);
  return config;
}

void BM_SpanTracingOff(benchmark::State& state) {
  Tracer tracer;
  RunSpans(state, tracer);
}
BENCHMARK(BM_SpanTracingOff);

void BM_SpanNotSampled(benchmark::State& state) {
  Tracer tracer;
  tracer.Configure(Enabled(SamplerConfig::Root::kAlwaysOff));
  RunSpans(state, tracer);
  tracer.Shutdown(std::chrono::milliseconds(1));
}
BENCHMARK(BM_SpanNotSampled);

void BM_SpanSampled(benchmark::State& state) {
  Tracer tracer;
  tracer.Configure(Enabled(SamplerConfig::Root::kAlwaysOn));
  RunSpans(state, tracer);
  tracer.Shutdown(std::chrono::milliseconds(1));
}
BENCHMARK(BM_SpanSampled);

void BM_InjectMeta(benchmark::State& state) {
  std::string message =
      R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"},"_meta":{"progressToken":3}}})";
  jsonrpc::Envelope env;
  jsonrpc::ScanError error;
  jsonrpc::Scan(message, &env, &error);
  TraceHeaders headers{kParent, "rojo=1", ""};
  for (auto _ : state) benchmark::DoNotOptimize(InjectMeta(message, env, headers));
}
BENCHMARK(BM_InjectMeta);

}  // namespace
}  // namespace switchboard::telemetry
