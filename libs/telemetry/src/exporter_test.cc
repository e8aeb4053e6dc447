#include "switchboard/telemetry/exporter.h"

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <thread>

#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "switchboard/telemetry/metrics.h"

namespace switchboard::telemetry {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using opentelemetry::proto::collector::trace::v1::TraceService;

// The export requests a loopback receiver got, whatever the transport.
class ReceivedRequests {
 public:
  std::vector<ExportTraceServiceRequest> Requests() {
    std::lock_guard<std::mutex> lock(mu_);
    return requests_;
  }
  // Waits (at most ~5 s) until `n` requests have arrived.
  bool WaitFor(size_t n) {
    for (int i = 0; i < 500; ++i) {
      if (Requests().size() >= n) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

 protected:
  std::mutex mu_;
  std::vector<ExportTraceServiceRequest> requests_;
};

// A loopback OTLP/HTTP receiver: answers `status` to each POST and keeps the bodies.
class Receiver : public ReceivedRequests {
 public:
  explicit Receiver(int status = 200)
      : acceptor_(context_, {asio::ip::make_address("127.0.0.1"), 0}), status_(status) {
    thread_ = std::thread([this] { Serve(); });
  }
  ~Receiver() {
    stop_ = true;
    beast::error_code ignored;
    // Wake the blocked accept with a connection of our own.
    asio::io_context c;
    asio::ip::tcp::socket s(c);
    s.connect(acceptor_.local_endpoint(), ignored);
    thread_.join();
  }
  int port() const { return acceptor_.local_endpoint().port(); }
  std::vector<std::string> Paths() {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_;
  }

 private:
  void Serve() {
    for (int i = 0; i < 100 && !stop_; ++i) {
      beast::error_code ec;
      asio::ip::tcp::socket socket(context_);
      acceptor_.accept(socket, ec);
      if (ec || stop_) return;
      beast::flat_buffer buffer;
      http::request<http::string_body> request;
      http::read(socket, buffer, request, ec);
      if (ec) continue;
      ExportTraceServiceRequest parsed;
      parsed.ParseFromString(request.body());
      {
        std::lock_guard<std::mutex> lock(mu_);
        requests_.push_back(std::move(parsed));
        paths_.emplace_back(request.target());
        EXPECT_EQ(request[http::field::content_type], "application/x-protobuf");
      }
      http::response<http::string_body> response{static_cast<http::status>(status_), 11};
      response.body() = "";
      response.prepare_payload();
      http::write(socket, response, ec);
    }
  }

  asio::io_context context_;
  asio::ip::tcp::acceptor acceptor_;
  int status_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::vector<std::string> paths_;
};

// A loopback OTLP/gRPC receiver: a TraceService that keeps every request.
class GrpcReceiver final : public TraceService::Service, public ReceivedRequests {
 public:
  GrpcReceiver() {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(this);
    server_ = builder.BuildAndStart();
  }
  ~GrpcReceiver() override { server_->Shutdown(); }
  int port() const { return port_; }

  grpc::Status Export(grpc::ServerContext* /*context*/, const ExportTraceServiceRequest* request,
                      ExportTraceServiceResponse* /*response*/) override {
    std::lock_guard<std::mutex> lock(mu_);
    requests_.push_back(*request);
    return grpc::Status::OK;
  }

 private:
  int port_ = 0;
  std::unique_ptr<grpc::Server> server_;
};

// A loopback port nothing listens on (it was free a moment ago).
int DeadPort() {
  asio::io_context c;
  asio::ip::tcp::acceptor a(c, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

std::unique_ptr<SpanData> MakeSpan(std::string name) {
  auto span = std::make_unique<SpanData>();
  span->context.trace_id = NewTraceId();
  span->context.span_id = NewSpanId();
  span->context.flags = 1;
  span->context.trace_state = "rojo=1";
  span->parent_span_id = NewSpanId();
  span->parent_remote = true;
  span->name = std::move(name);
  span->kind = SpanKind::kServer;
  span->start_unix_nano = 1000;
  span->end_unix_nano = 2000;
  span->attributes.emplace_back("mcp.method.name", std::string("tools/call"));
  span->attributes.emplace_back("http.response.status_code", int64_t{200});
  span->attributes.emplace_back("ok", true);
  span->status = StatusCode::kError;
  span->status_message = "boom";
  return span;
}

// Enqueues 25 spans into an exporter configured by ConfigFor (batches of at most 10) and
// expects `receiver` to get all of them, in order, under the exporter's resource.
void ExportAndExpectBatches(BatchExporter& exporter, ReceivedRequests& receiver) {
  for (int i = 0; i < 25; ++i) EXPECT_TRUE(exporter.Enqueue(MakeSpan("s" + std::to_string(i))));
  ASSERT_TRUE(receiver.WaitFor(3));
  exporter.Shutdown(std::chrono::milliseconds(1000));
  int spans = 0;
  for (const auto& request : receiver.Requests()) {
    ASSERT_EQ(request.resource_spans_size(), 1);
    EXPECT_EQ(request.resource_spans(0).resource().attributes(0).value().string_value(), "sb-test");
    spans += request.resource_spans(0).scope_spans(0).spans_size();
    EXPECT_LE(request.resource_spans(0).scope_spans(0).spans_size(), 10);
  }
  EXPECT_EQ(spans, 25);
  EXPECT_EQ(receiver.Requests()[0].resource_spans(0).scope_spans(0).spans(0).name(), "s0");
  EXPECT_EQ(exporter.exported(), 25u);
  EXPECT_EQ(exporter.dropped(), 0u);
}

// Enqueues 200 spans into an exporter whose collector is unreachable (its queue holds 20) and
// expects every one dropped: the queue's overflow at once, then the failed exports.
void EnqueueAndExpectAllDropped(BatchExporter& exporter) {
  for (int i = 0; i < 200; ++i) exporter.Enqueue(MakeSpan("x"));  // never blocks
  for (int i = 0; i < 500 && exporter.dropped() < 200; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  exporter.Shutdown(std::chrono::milliseconds(100));
  EXPECT_EQ(exporter.dropped(), 200u);
  EXPECT_EQ(exporter.exported(), 0u);
}

TracerConfig ConfigFor(int port, size_t max_queue = 100) {
  TracerConfig config;
  config.enabled = true;
  config.endpoint = "http://127.0.0.1:" + std::to_string(port) + "/v1/traces";
  config.resource_attributes = {{"service.name", "sb-test"}};
  config.max_queue = max_queue;
  config.max_batch = 10;
  config.schedule_delay = std::chrono::milliseconds(50);
  config.export_timeout = std::chrono::milliseconds(2000);
  return config;
}

TEST(EncodeTest, WritesTheOtlpFields) {
  std::vector<std::unique_ptr<SpanData>> spans;
  spans.push_back(MakeSpan("edge"));
  const SpanData& in = *spans[0];
  ExportTraceServiceRequest request = BuildExportRequest({{"service.name", "edge"}}, spans);
  ASSERT_EQ(request.resource_spans_size(), 1);
  const auto& rs = request.resource_spans(0);
  EXPECT_EQ(rs.resource().attributes(0).key(), "service.name");
  EXPECT_EQ(rs.resource().attributes(0).value().string_value(), "edge");
  const auto& span = rs.scope_spans(0).spans(0);
  EXPECT_EQ(span.trace_id(),
            std::string(reinterpret_cast<const char*>(in.context.trace_id.data()), 16));
  EXPECT_EQ(span.span_id().size(), 8u);
  EXPECT_EQ(span.parent_span_id(),
            std::string(reinterpret_cast<const char*>(in.parent_span_id.data()), 8));
  EXPECT_EQ(span.trace_state(), "rojo=1");
  EXPECT_EQ(span.flags(), 0x301u);
  EXPECT_EQ(span.name(), "edge");
  EXPECT_EQ(span.kind(), opentelemetry::proto::trace::v1::Span::SPAN_KIND_SERVER);
  EXPECT_EQ(span.start_time_unix_nano(), 1000u);
  EXPECT_EQ(span.end_time_unix_nano(), 2000u);
  ASSERT_EQ(span.attributes_size(), 3);
  EXPECT_EQ(span.attributes(0).value().string_value(), "tools/call");
  EXPECT_EQ(span.attributes(1).value().int_value(), 200);
  EXPECT_TRUE(span.attributes(2).value().bool_value());
  EXPECT_EQ(span.status().code(), opentelemetry::proto::trace::v1::Status::STATUS_CODE_ERROR);
  EXPECT_EQ(span.status().message(), "boom");
}

TEST(ParseHttpTargetTest, SplitsTheUrl) {
  auto target = ParseHttpTarget("http://collector:4318/v1/traces");
  ASSERT_TRUE(target.ok());
  EXPECT_EQ(target->host, "collector");
  EXPECT_EQ(target->port, "4318");
  EXPECT_EQ(target->path, "/v1/traces");
  EXPECT_EQ(ParseHttpTarget("http://[::1]/x")->host, "::1");
  EXPECT_EQ(ParseHttpTarget("http://h")->port, "80");
  EXPECT_FALSE(ParseHttpTarget("https://h/x").ok());
  EXPECT_FALSE(ParseHttpTarget("not a url").ok());
}

TEST(BatchExporterTest, PostsBatchesToTheReceiver) {
  Receiver receiver;
  TracerConfig config = ConfigFor(receiver.port());
  BatchExporter exporter(*MakeTransport(config), config);
  ASSERT_NO_FATAL_FAILURE(ExportAndExpectBatches(exporter, receiver));
  EXPECT_EQ(receiver.Paths()[0], "/v1/traces");
}

TEST(BatchExporterTest, ShutdownFlushesWhatIsQueued) {
  Receiver receiver;
  TracerConfig config = ConfigFor(receiver.port());
  config.schedule_delay = std::chrono::milliseconds(600000);
  BatchExporter exporter(*MakeTransport(config), config);
  EXPECT_TRUE(exporter.Enqueue(MakeSpan("late")));
  exporter.Shutdown(std::chrono::milliseconds(2000));
  EXPECT_EQ(exporter.exported(), 1u);
}

TEST(BatchExporterTest, ADeadCollectorCostsSpansNotCallers) {
  int dead_port = DeadPort();
  TracerConfig config = ConfigFor(dead_port, /*max_queue=*/20);
  BatchExporter exporter(*MakeTransport(config), config);
  EnqueueAndExpectAllDropped(exporter);
  std::string metrics = SerializeMetrics();
  EXPECT_NE(metrics.find("sb_otel_spans_total{outcome=\"dropped\"}"), std::string::npos);
}

TracerConfig GrpcConfigFor(int port, size_t max_queue = 100) {
  TracerConfig config = ConfigFor(port, max_queue);
  config.protocol = OtlpProtocol::kGrpc;
  config.endpoint = "http://127.0.0.1:" + std::to_string(port);
  return config;
}

TEST(ParseGrpcTargetTest, FollowsTheOtlpEndpointRules) {
  auto plain = ParseGrpcTarget("http://collector:4317", false);
  ASSERT_TRUE(plain.ok()) << plain.status();
  EXPECT_EQ(plain->address, "collector:4317");
  EXPECT_FALSE(plain->tls);
  auto tls = ParseGrpcTarget("https://collector:4317/", false);
  ASSERT_TRUE(tls.ok());
  EXPECT_EQ(tls->address, "collector:4317");
  EXPECT_TRUE(tls->tls);
  // A bare host:port is TLS unless OTEL_EXPORTER_OTLP_INSECURE says otherwise.
  EXPECT_TRUE(ParseGrpcTarget("collector:4317", false)->tls);
  EXPECT_FALSE(ParseGrpcTarget("collector:4317", true)->tls);
  EXPECT_EQ(ParseGrpcTarget("http://[::1]", false)->address, "[::1]:80");
  EXPECT_FALSE(ParseGrpcTarget("http://collector:4317/v1/traces", false).ok());
  EXPECT_FALSE(ParseGrpcTarget("ftp://collector:4317", false).ok());
  EXPECT_FALSE(ParseGrpcTarget("http://", false).ok());
}

TEST(GrpcExporterTest, ExportsBatchesToATraceService) {
  GrpcReceiver receiver;
  TracerConfig config = GrpcConfigFor(receiver.port());
  auto transport = MakeTransport(config);
  ASSERT_TRUE(transport.ok()) << transport.status();
  BatchExporter exporter(std::move(*transport), config);
  ExportAndExpectBatches(exporter, receiver);
}

TEST(GrpcExporterTest, ADeadAddressCountsDropsWithoutBlocking) {
  int dead_port = DeadPort();
  TracerConfig config = GrpcConfigFor(dead_port, /*max_queue=*/20);
  config.export_timeout = std::chrono::milliseconds(500);
  BatchExporter exporter(*MakeTransport(config), config);
  EnqueueAndExpectAllDropped(exporter);
}

TEST(BatchExporterTest, RefusesSpansAfterShutdown) {
  TracerConfig config = ConfigFor(9);
  BatchExporter exporter(*MakeTransport(config), config);
  exporter.Shutdown(std::chrono::milliseconds(1));
  EXPECT_FALSE(exporter.Enqueue(MakeSpan("x")));
  EXPECT_EQ(exporter.dropped(), 1u);
}

}  // namespace
}  // namespace switchboard::telemetry
