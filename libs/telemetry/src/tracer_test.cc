#include "switchboard/telemetry/tracer.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <string>

#include "switchboard/common/log.h"
#include "switchboard/common/status.h"

namespace switchboard::telemetry {
namespace {

std::map<std::string, std::string>& FakeEnv() {
  static std::map<std::string, std::string> env;
  return env;
}
const char* FakeGetenv(const char* name) {
  auto it = FakeEnv().find(name);
  return it == FakeEnv().end() ? nullptr : it->second.c_str();
}

absl::StatusOr<TracerConfig> ConfigWith(std::map<std::string, std::string> env) {
  FakeEnv() = std::move(env);
  return ConfigFromEnv("sb-test", FakeGetenv);
}

TEST(ConfigFromEnvTest, OffWithoutAnEndpoint) {
  auto config = ConfigWith({});
  ASSERT_TRUE(config.ok());
  EXPECT_FALSE(config->enabled);
  EXPECT_EQ(config->service_name, "sb-test");
  EXPECT_TRUE(config->sampler.parent_based);
}

TEST(ConfigFromEnvTest, ReadsTheStandardVariables) {
  auto config = ConfigWith({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318/"},
                            {"OTEL_SERVICE_NAME", "edge-a"},
                            {"OTEL_TRACES_SAMPLER", "parentbased_traceidratio"},
                            {"OTEL_TRACES_SAMPLER_ARG", "0.25"},
                            {"OTEL_RESOURCE_ATTRIBUTES",
                             "deployment.environment=prod, team=a%2Cb,service.name=ignored"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->enabled);
  EXPECT_EQ(config->endpoint, "http://127.0.0.1:4318/v1/traces");
  EXPECT_EQ(config->service_name, "edge-a");
  EXPECT_EQ(config->sampler.root, SamplerConfig::Root::kRatio);
  EXPECT_DOUBLE_EQ(config->sampler.ratio, 0.25);
  ASSERT_GE(config->resource_attributes.size(), 3u);
  EXPECT_EQ(config->resource_attributes[0],
            (std::pair<std::string, std::string>("service.name", "edge-a")));
  EXPECT_EQ(config->resource_attributes[1],
            (std::pair<std::string, std::string>("deployment.environment", "prod")));
  EXPECT_EQ(config->resource_attributes[2], (std::pair<std::string, std::string>("team", "a,b")));

  config = ConfigWith({{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "http://c:9/custom"},
                       {"OTEL_EXPORTER_OTLP_ENDPOINT", "http://ignored:1"}});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->endpoint, "http://c:9/custom");
  config =
      ConfigWith({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:9"}, {"OTEL_SDK_DISABLED", "true"}});
  ASSERT_TRUE(config.ok());
  EXPECT_FALSE(config->enabled);
}

TEST(ConfigFromEnvTest, ChoosesTheOtlpProtocol) {
  auto config = ConfigWith({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318"}});
  ASSERT_TRUE(config.ok());
  EXPECT_EQ(config->protocol, OtlpProtocol::kHttpProtobuf);
  // gRPC takes the endpoint as it is: no /v1/traces.
  config = ConfigWith({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317"},
                       {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->enabled);
  EXPECT_EQ(config->protocol, OtlpProtocol::kGrpc);
  EXPECT_EQ(config->endpoint, "http://127.0.0.1:4317");
  // The traces variable wins over the general one.
  config = ConfigWith({{"OTEL_EXPORTER_OTLP_ENDPOINT", "collector:4317"},
                       {"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"},
                       {"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc"},
                       {"OTEL_EXPORTER_OTLP_INSECURE", "true"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->protocol, OtlpProtocol::kGrpc);
  EXPECT_TRUE(config->insecure);

  config = ConfigWith({{"OTEL_EXPORTER_OTLP_PROTOCOL", "http/json"}});
  ASSERT_FALSE(config.ok());
  EXPECT_NE(std::string(MessageOf(config.status())).find("OTEL_EXPORTER_OTLP_PROTOCOL"),
            std::string::npos);
  config = ConfigWith({{"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "carrier-pigeon"}});
  EXPECT_NE(std::string(MessageOf(config.status())).find("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"),
            std::string::npos);
  config = ConfigWith({{"OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4317/v1/traces"},
                       {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}});
  EXPECT_NE(std::string(MessageOf(config.status())).find("OTEL_EXPORTER_OTLP_ENDPOINT"),
            std::string::npos);
}

TEST(ConfigFromEnvTest, NamesTheBadVariable) {
  auto config = ConfigWith({{"OTEL_TRACES_SAMPLER", "sometimes"}});
  EXPECT_FALSE(config.ok());
  EXPECT_NE(std::string(MessageOf(config.status())).find("OTEL_TRACES_SAMPLER"), std::string::npos);
  config = ConfigWith({{"OTEL_TRACES_SAMPLER", "traceidratio"}, {"OTEL_TRACES_SAMPLER_ARG", "2"}});
  EXPECT_NE(std::string(MessageOf(config.status())).find("OTEL_TRACES_SAMPLER_ARG"),
            std::string::npos);
  config = ConfigWith({{"OTEL_EXPORTER_OTLP_ENDPOINT", "https://collector:4318"}});
  EXPECT_NE(std::string(MessageOf(config.status())).find("OTEL_EXPORTER_OTLP_ENDPOINT"),
            std::string::npos);
  config = ConfigWith({{"OTEL_RESOURCE_ATTRIBUTES", "novalue"}});
  EXPECT_NE(std::string(MessageOf(config.status())).find("OTEL_RESOURCE_ATTRIBUTES"),
            std::string::npos);
  config = ConfigWith({{"OTEL_BSP_MAX_QUEUE_SIZE", "-1"}});
  EXPECT_NE(std::string(MessageOf(config.status())).find("OTEL_BSP_MAX_QUEUE_SIZE"),
            std::string::npos);
}

TracerConfig Enabled(SamplerConfig sampler) {
  TracerConfig config;
  config.enabled = true;
  // Nothing listens on port 9 of loopback: spans are only queued within these tests.
  config.endpoint = "http://127.0.0.1:9/v1/traces";
  config.sampler = sampler;
  config.schedule_delay = std::chrono::milliseconds(60000);
  return config;
}

TEST(TracerTest, OffCarriesTheParentAndRecordsNothing) {
  Tracer tracer;
  auto parent = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  Span span = tracer.StartSpan("x", SpanKind::kServer, *parent);
  EXPECT_FALSE(span.recording());
  EXPECT_EQ(FormatTraceparent(span.context()), FormatTraceparent(*parent));
  Span root = tracer.StartSpan("y", SpanKind::kServer, SpanContext{});
  EXPECT_FALSE(root.context().valid());
  EXPECT_TRUE(root.Headers().empty());
}

TEST(TracerTest, ChildrenShareTheTraceAndFollowTheParentsDecision) {
  Tracer tracer;
  tracer.Configure(Enabled({SamplerConfig::Root::kAlwaysOn, 1.0, true}));
  Span root = tracer.StartSpan("root", SpanKind::kServer, SpanContext{});
  ASSERT_TRUE(root.recording());
  EXPECT_TRUE(root.context().sampled());
  Span child = tracer.StartSpan("child", SpanKind::kClient, root.context());
  EXPECT_EQ(child.context().trace_id, root.context().trace_id);
  EXPECT_NE(child.context().span_id, root.context().span_id);
  EXPECT_TRUE(child.recording());

  auto unsampled = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  Span follower = tracer.StartSpan("f", SpanKind::kServer, *unsampled);
  EXPECT_FALSE(follower.recording());
  EXPECT_EQ(follower.context().trace_id, unsampled->trace_id);
  EXPECT_NE(follower.context().span_id, unsampled->span_id);  // its own id, passed on unsampled
  EXPECT_FALSE(follower.context().sampled());
  tracer.Shutdown(std::chrono::milliseconds(1));
}

TEST(TracerTest, RatioSamplingDecidesByTraceId) {
  Tracer tracer;
  tracer.Configure(Enabled({SamplerConfig::Root::kRatio, 0.5, true}));
  int sampled = 0;
  for (int i = 0; i < 2000; ++i) {
    Span span = tracer.StartSpan("r", SpanKind::kServer, SpanContext{});
    if (span.context().sampled()) ++sampled;
    EXPECT_EQ(span.recording(), span.context().sampled());
  }
  EXPECT_GT(sampled, 800);
  EXPECT_LT(sampled, 1200);
  Tracer off;
  off.Configure(Enabled({SamplerConfig::Root::kAlwaysOff, 0.0, true}));
  EXPECT_FALSE(off.StartSpan("o", SpanKind::kServer, SpanContext{}).recording());
  tracer.Shutdown(std::chrono::milliseconds(1));
  off.Shutdown(std::chrono::milliseconds(1));
}

TEST(ScopedActiveTest, MakesTheSpanCurrentForLogLines) {
  log::Init("t", log::Level::kInfo);
  auto context = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  EXPECT_EQ(CurrentContext(), nullptr);
  {
    ScopedActive active(*context);
    ASSERT_NE(CurrentContext(), nullptr);
    auto line = boost::json::parse(log::Format(log::Level::kInfo, "m", {})).as_object();
    EXPECT_EQ(line["trace_id"].as_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    EXPECT_EQ(line["span_id"].as_string(), "00f067aa0ba902b7");
    {
      ScopedActive none{SpanContext{}};
      EXPECT_EQ(CurrentContext(), nullptr);
      EXPECT_FALSE(boost::json::parse(log::Format(log::Level::kInfo, "m", {}))
                       .as_object()
                       .contains("trace_id"));
    }
    EXPECT_EQ(CurrentContext(), &*context);
  }
  EXPECT_EQ(CurrentContext(), nullptr);
  EXPECT_FALSE(
      boost::json::parse(log::Format(log::Level::kInfo, "m", {})).as_object().contains("span_id"));
}

}  // namespace
}  // namespace switchboard::telemetry
