#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "opentelemetry/proto/collector/trace/v1/trace_service.pb.h"
#include "switchboard/telemetry/tracer.h"

namespace switchboard::telemetry {

// Builds one OTLP ExportTraceServiceRequest of `spans` under one resource.
opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest BuildExportRequest(
    const std::vector<std::pair<std::string, std::string>>& resource_attributes,
    const std::vector<std::unique_ptr<SpanData>>& spans);

// Where an OTLP/HTTP endpoint URL points.
struct HttpTarget {
  std::string host;
  std::string port;
  std::string path;  // with the leading '/'
};
// Parses "http://host[:port][/path]"; only plain http is supported.
absl::StatusOr<HttpTarget> ParseHttpTarget(std::string_view url);

// POSTs `body` as application/x-protobuf to `target`, waiting at most `timeout`; OK on a 2xx.
absl::Status PostProtobuf(const HttpTarget& target, const std::string& body,
                          std::chrono::milliseconds timeout);

// Where an OTLP/gRPC endpoint points: a gRPC target ("host:port") and whether to use TLS.
struct GrpcTarget {
  std::string address;
  bool tls = true;
};
// Parses an OTLP/gRPC endpoint as the OpenTelemetry spec has it: "http://host:port"
// (plaintext), "https://host:port" (TLS), or "host:port" (TLS unless `insecure`); no path.
absl::StatusOr<GrpcTarget> ParseGrpcTarget(std::string_view endpoint, bool insecure);

// How one export request reaches the collector: the only part OTLP/HTTP and OTLP/gRPC do not
// share. Called from the exporter's thread only.
class ExportTransport {
 public:
  virtual ~ExportTransport() = default;
  // Sends `request`, waiting at most `timeout`; OK when the collector accepted it.
  virtual absl::Status Export(
      const opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest& request,
      std::chrono::milliseconds timeout) = 0;
};

// The transport `config` asks for (http/protobuf POSTs to config.endpoint; grpc calls
// opentelemetry.proto.collector.trace.v1.TraceService/Export at config.endpoint). An error when
// the endpoint does not parse.
absl::StatusOr<std::unique_ptr<ExportTransport>> MakeTransport(const TracerConfig& config);

// Batches finished spans and exports them from its own thread: a batch leaves when it is full
// or `schedule_delay` after its first span. The queue is bounded: a span that finds it full is
// dropped and counted, never waited for, so a dead collector costs callers nothing but spans.
class BatchExporter {
 public:
  BatchExporter(std::unique_ptr<ExportTransport> transport, TracerConfig config);
  ~BatchExporter();

  // Queues a span; false (and counted as dropped) when the queue is full or stopped.
  bool Enqueue(std::unique_ptr<SpanData> span);
  // Exports what is queued, waiting at most `timeout`, and stops the thread. Idempotent.
  void Shutdown(std::chrono::milliseconds timeout);

  uint64_t dropped() const { return dropped_.load(); }
  uint64_t exported() const { return exported_.load(); }
  size_t queued() const;

 private:
  void Run();

  std::unique_ptr<ExportTransport> transport_;
  TracerConfig config_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<SpanData>> queue_;
  bool stopping_ = false;
  std::chrono::steady_clock::time_point deadline_;  // when the oldest queued span must leave
  std::atomic<uint64_t> dropped_{0};
  std::atomic<uint64_t> exported_{0};
  std::thread thread_;
};

}  // namespace switchboard::telemetry
