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
  // Responses from the server go back as they are; one to an unknown id is ignored.
  telemetry.OnResponse(R"({"jsonrpc":"2.0","id":3,"result":{}})");
  telemetry.OnResponse(R"({"jsonrpc":"2.0","id":99,"result":{}})");
  telemetry.OnResponse("not json");
}

TEST(AttachTelemetryTest, ClientResponsesAreNotRewritten) {
  AttachTelemetry telemetry;
  v1::AttachRequest frame;
  frame.set_traceparent(kParent);
  std::string response = R"({"jsonrpc":"2.0","id":"s1","result":{"ok":true}})";
  EXPECT_EQ(telemetry.OnRequest(response, frame), response);
}

}  // namespace
}  // namespace switchboard::runner
