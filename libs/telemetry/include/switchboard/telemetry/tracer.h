#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include "switchboard/telemetry/trace_context.h"

namespace switchboard::telemetry {

enum class SpanKind { kInternal = 1, kServer = 2, kClient = 3 };
enum class StatusCode { kUnset = 0, kOk = 1, kError = 2 };

using AttributeValue = std::variant<std::string, int64_t, bool, double>;

// Everything the exporter sends of one finished span.
struct SpanData {
  SpanContext context;
  SpanId parent_span_id{};  // all zeros for a root span
  bool parent_remote = false;
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  uint64_t start_unix_nano = 0;
  uint64_t end_unix_nano = 0;
  std::vector<std::pair<std::string, AttributeValue>> attributes;
  StatusCode status = StatusCode::kUnset;
  std::string status_message;
};

// How the tracer decides which new traces to record (OTEL_TRACES_SAMPLER).
struct SamplerConfig {
  enum class Root { kAlwaysOn, kAlwaysOff, kRatio } root = Root::kAlwaysOn;
  double ratio = 1.0;
  bool parent_based = true;  // a span with a parent follows the parent's sampled flag
};

// How spans travel to the collector (OTEL_EXPORTER_OTLP_PROTOCOL).
enum class OtlpProtocol { kHttpProtobuf, kGrpc };

// The tracer's configuration, normally from the standard OTEL_* environment variables.
struct TracerConfig {
  bool enabled = false;  // false: spans are never recorded, contexts only passed on
  OtlpProtocol protocol = OtlpProtocol::kHttpProtobuf;
  // http/protobuf: full URL of the traces endpoint (…/v1/traces). grpc: the collector's
  // address as given (http://host:port, https://host:port or host:port), no path.
  std::string endpoint;
  bool insecure = false;  // grpc with a host:port endpoint: plaintext instead of TLS
  std::string service_name;
  std::vector<std::pair<std::string, std::string>> resource_attributes;  // service.name first
  SamplerConfig sampler;
  size_t max_queue = 2048;  // finished spans waiting for export; more are dropped
  size_t max_batch = 512;   // spans per export request
  std::chrono::milliseconds schedule_delay{1000};
  std::chrono::milliseconds export_timeout{5000};
};

// Reads OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT),
// OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL (http/protobuf, the default, or grpc),
// OTEL_EXPORTER_OTLP_(TRACES_)INSECURE, OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER,
// OTEL_TRACES_SAMPLER_ARG, OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED and OTEL_BSP_* through
// `getenv` (std::getenv by default). Tracing is enabled when an endpoint is set. An invalid
// value is an error naming the variable.
absl::StatusOr<TracerConfig> ConfigFromEnv(std::string_view default_service,
                                           const char* (*getenv)(const char*) = nullptr);

class Tracer;

// One operation of a trace. A span that is not recording (tracing off, or not sampled) still
// has the context to pass on, and costs no allocation. Ends on destruction if not ended before.
// Not thread-safe: one owner sets its attributes.
class Span {
 public:
  Span() = default;
  ~Span() { End(); }
  Span(Span&& other) noexcept;
  Span& operator=(Span&& other) noexcept;
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

  const SpanContext& context() const { return context_; }
  bool recording() const { return data_ != nullptr; }

  void SetAttribute(std::string_view key, std::string_view value);
  void SetAttribute(std::string_view key, const char* value) {
    SetAttribute(key, std::string_view(value));
  }
  void SetAttribute(std::string_view key, int64_t value);
  void SetAttribute(std::string_view key, int value) {
    SetAttribute(key, static_cast<int64_t>(value));
  }
  void SetAttribute(std::string_view key, bool value);
  void SetAttribute(std::string_view key, double value);
  void SetStatus(StatusCode code, std::string_view message = {});
  // Hands the span to the exporter (once; later calls do nothing).
  void End();

  // The propagation fields naming this span as parent (the incoming baggage is kept by the
  // caller); empty when the context is invalid.
  TraceHeaders Headers(std::string_view baggage = {}) const;

 private:
  friend class Tracer;
  SpanContext context_;
  std::unique_ptr<SpanData> data_;
  Tracer* tracer_ = nullptr;
};

class BatchExporter;

// Starts spans and hands finished ones to a batching OTLP exporter. One per process
// (Tracer::Global()); thread-safe.
class Tracer {
 public:
  Tracer();
  ~Tracer();

  // The process-wide tracer, disabled until Configure.
  static Tracer& Global();

  // Applies `config` (starting the exporter thread when enabled; a disabled config turns
  // recording off). Call once at start-up, while no span is being started.
  void Configure(TracerConfig config);
  // Exports what is queued (waiting at most `timeout`) and stops the exporter.
  void Shutdown(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000));

  bool enabled() const { return enabled_; }

  // A span under `parent` (an invalid parent starts a new trace). When tracing is off the span
  // records nothing and carries `parent` itself, so the incoming context is passed on as is.
  Span StartSpan(std::string_view name, SpanKind kind, const SpanContext& parent);

  // Spans dropped because the queue was full or their export failed, and spans exported.
  uint64_t dropped() const;
  uint64_t exported() const;

 private:
  friend class Span;
  void Finish(std::unique_ptr<SpanData> data);
  bool Sample(const SpanContext& parent, const TraceId& trace_id) const;

  bool enabled_ = false;
  SamplerConfig sampler_;
  std::unique_ptr<BatchExporter> exporter_;
};

// Marks a span as the current one on this thread for the scope's lifetime: log lines written
// meanwhile carry its trace_id and span_id, and CurrentContext() returns it. Only for code that
// does not suspend (no co_await) inside the scope.
class ScopedActive {
 public:
  explicit ScopedActive(const SpanContext& context);
  explicit ScopedActive(const Span& span) : ScopedActive(span.context()) {}
  ~ScopedActive();
  ScopedActive(const ScopedActive&) = delete;
  ScopedActive& operator=(const ScopedActive&) = delete;

 private:
  const SpanContext* previous_;
  std::string trace_id_;
  std::string span_id_;
  const std::string* previous_trace_id_;
  const std::string* previous_span_id_;
};

// Configures Tracer::Global() from the OTEL_* environment for `service` (the default
// service.name); ends the process with one clear line when a variable is invalid.
void ConfigureTracingOrExit(std::string_view service);

// The context made current on this thread by ScopedActive; nullptr when none is.
const SpanContext* CurrentContext();

// Nanoseconds since the Unix epoch, now.
uint64_t NowUnixNano();

}  // namespace switchboard::telemetry
