#include "services/runner/src/runner_telemetry.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace switchboard::runner {
namespace {

constexpr char kParent[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(AttachTelemetryTest, UntracedFramesPassThroughUntouched) {
  AttachTelemetry telemetry;
  v1::AttachRequest frame;
  std::string message = R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x"}})";
  EXPECT_EQ(telemetry.OnRequest(message, frame), message);
  frame.set_traceparent("not-a-traceparent");
  EXPECT_EQ(telemetry.OnRequest(message, frame), message);
}

TEST(AttachTelemetryTest, TheServerGetsTheTraceContextInMeta) {
  AttachTelemetry telemetry;
  telemetry.SetServer("echo");
  telemetry.SetPid(42);
  v1::AttachRequest frame;
  frame.set_traceparent(kParent);
  frame.set_tracestate("rojo=1");
  frame.set_baggage("tier=gold");
  std::string out = telemetry.OnRequest(
      R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x","_meta":{"progressToken":9}}})",
      frame);
  auto meta = boost::json::parse(out).at("params").at("_meta").as_object();
  // Tracing is off in this process: the router's context goes on as it came.
  EXPECT_EQ(meta.at("traceparent").as_string(), kParent);
  EXPECT_EQ(meta.at("tracestate").as_string(), "rojo=1");
  EXPECT_EQ(meta.at("baggage").as_string(), "tier=gold");
  EXPECT_EQ(meta.at("progressToken").as_int64(), 9);
}

TEST(AttachTelemetryTest, ARequestsSpanEndsWithItsResponse) {
  telemetry::Tracer tracer;
  telemetry::TracerConfig config;
  config.enabled = true;
  config.endpoint = "http://127.0.0.1:9/v1/traces";  // nothing listens: exports fail
  config.schedule_delay = std::chrono::milliseconds(60000);
  tracer.Configure(config);
  AttachTelemetry telemetry(&tracer);
  v1::AttachRequest frame;
  frame.set_traceparent(kParent);
  std::string out = telemetry.OnRequest(
      R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x"}})", frame);
  // The server's parent is the runner's own span, in the router's trace.
  std::string traceparent(
      boost::json::parse(out).at("params").at("_meta").at("traceparent").as_string());
  EXPECT_EQ(traceparent.substr(0, 35), std::string(kParent).substr(0, 35));
  EXPECT_NE(traceparent, kParent);

  // Responses to other ids, or none at all, leave the span open...
  telemetry.OnResponse(R"({"jsonrpc":"2.0","id":99,"result":{}})");
  telemetry.OnResponse("not json");
  // ...so stopping the exporter finds nothing to export, and a span ended after that is
  // counted as dropped at once.
  tracer.Shutdown(std::chrono::milliseconds(1));
  EXPECT_EQ(tracer.dropped(), 0u);
  telemetry.OnResponse(R"({"jsonrpc":"2.0","id":3,"error":{"code":-32602,"message":"bad"}})");
  EXPECT_EQ(tracer.dropped(), 1u);
  // Ended once: a second response to the same id ends nothing.
  telemetry.OnResponse(R"({"jsonrpc":"2.0","id":3,"result":{}})");
  EXPECT_EQ(tracer.dropped(), 1u);
}

TEST(AttachTelemetryTest, ClientResponsesAreNotRewritten) {
  AttachTelemetry telemetry;
  v1::AttachRequest frame;
  frame.set_traceparent(kParent);
  std::string response = R"({"jsonrpc":"2.0","id":"s1","result":{"ok":true}})";
  EXPECT_EQ(telemetry.OnRequest(response, frame), response);
}

ProcessStatus Row(std::string server, std::string isolation, std::string state, int64_t attachments,
                  int64_t in_flight) {
  ProcessStatus s;
  s.server = std::move(server);
  s.isolation = std::move(isolation);
  s.state = std::move(state);
  s.attachments = attachments;
  s.in_flight = in_flight;
  s.restarts = 2;
  return s;
}

TEST(SumProcessesTest, SumsAServersProcessesAndZeroesStatesNoneIsIn) {
  ProcessTotals totals = SumProcesses({
      Row("pool", "shared", "ready", 3, 1),
      Row("pool", "shared", "draining", 3, 4),
      Row("mine", "per-user", "ready", 1, 2),
      Row("mine", "per-user", "ready", 2, 5),
  });
  // Requests in flight add up over a server's processes.
  EXPECT_EQ(totals.by_server["pool"].in_flight, 5);
  EXPECT_EQ(totals.by_server["mine"].in_flight, 7);
  // A shared pool reports all its attachments on each row; keyed processes their own.
  EXPECT_EQ(totals.by_server["pool"].attachments, 3);
  EXPECT_EQ(totals.by_server["mine"].attachments, 3);
  EXPECT_EQ(totals.by_server["pool"].restarts, 2);
  EXPECT_EQ(totals.by_state["ready"], 3);
  EXPECT_EQ(totals.by_state["draining"], 1);
  // Every state is exported, so one no process is in any more reads 0 at the next scrape.
  for (const char* state : {"idle", "starting", "stopping", "backoff", "breaker-open"}) {
    ASSERT_EQ(totals.by_state.count(state), 1u) << state;
    EXPECT_EQ(totals.by_state[state], 0) << state;
  }
  EXPECT_EQ(totals.by_state.size(), 7u);
}

}  // namespace
}  // namespace switchboard::runner
