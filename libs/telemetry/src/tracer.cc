#include "switchboard/telemetry/tracer.h"

#include <charconv>
#include <cstdlib>
#include <cstring>

#include "switchboard/common/log.h"
#include "switchboard/common/signals.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include "switchboard/telemetry/exporter.h"

namespace switchboard::telemetry {
namespace {

thread_local const SpanContext* g_current = nullptr;

const char* RealGetenv(const char* name) { return std::getenv(name); }

std::string PercentDecode(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      int value = 0;
      auto [ptr, ec] = std::from_chars(text.data() + i + 1, text.data() + i + 3, value, 16);
      if (ec == std::errc() && ptr == text.data() + i + 3) {
        out.push_back(static_cast<char>(value));
        i += 2;
        continue;
      }
    }
    out.push_back(text[i]);
  }
  return out;
}

absl::StatusOr<size_t> PositiveSize(const char* (*getenv)(const char*), const char* name,
                                    size_t fallback) {
  const char* raw = getenv(name);
  if (raw == nullptr || *raw == '\0') return fallback;
  std::string_view text(raw);
  size_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value == 0) {
    return absl::InvalidArgumentError(
        StrCat(name, " must be a positive integer, not '", text, "'"));
  }
  return value;
}

}  // namespace

uint64_t NowUnixNano() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

absl::StatusOr<TracerConfig> ConfigFromEnv(std::string_view default_service,
                                           const char* (*getenv)(const char*)) {
  if (getenv == nullptr) getenv = RealGetenv;
  auto get = [&](const char* name) {
    const char* value = getenv(name);
    return std::string(value == nullptr ? "" : value);
  };
  // The signal-specific variable wins over the general one.
  auto pick = [&](const char* traces_name, const char* name) {
    std::string value = get(traces_name);
    return value.empty() ? std::pair(std::string(name), get(name))
                         : std::pair(std::string(traces_name), value);
  };
  TracerConfig config;
  auto [protocol_variable, protocol] =
      pick("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL");
  if (protocol == "grpc") {
    config.protocol = OtlpProtocol::kGrpc;
  } else if (!protocol.empty() && protocol != "http/protobuf") {
    return absl::InvalidArgumentError(
        StrCat(protocol_variable, " '", protocol, "' is not one of http/protobuf, grpc"));
  }
  auto [insecure_variable, insecure] =
      pick("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE");
  if (!insecure.empty() && insecure != "true" && insecure != "false") {
    return absl::InvalidArgumentError(
        StrCat(insecure_variable, " must be true or false, not '", insecure, "'"));
  }
  config.insecure = insecure == "true";
  auto [endpoint_variable, endpoint] =
      pick("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT");
  // OTLP/HTTP appends the signal's path to the general endpoint; gRPC takes it as it is.
  if (config.protocol == OtlpProtocol::kHttpProtobuf && !endpoint.empty() &&
      endpoint_variable == "OTEL_EXPORTER_OTLP_ENDPOINT") {
    while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
    endpoint += "/v1/traces";
  }
  config.endpoint = std::move(endpoint);
  std::string disabled = get("OTEL_SDK_DISABLED");
  std::string exporter = get("OTEL_TRACES_EXPORTER");
  config.enabled = !config.endpoint.empty() && disabled != "true" && exporter != "none";
  if (config.enabled) {
    absl::Status valid = config.protocol == OtlpProtocol::kGrpc
                             ? ParseGrpcTarget(config.endpoint, config.insecure).status()
                             : ParseHttpTarget(config.endpoint).status();
    if (!valid.ok()) {
      return absl::InvalidArgumentError(StrCat(endpoint_variable, ": ", MessageOf(valid)));
    }
  }

  std::string sampler = get("OTEL_TRACES_SAMPLER");
  std::string arg = get("OTEL_TRACES_SAMPLER_ARG");
  SamplerConfig& s = config.sampler;
  if (sampler.empty() || sampler == "parentbased_always_on") {
    s = {SamplerConfig::Root::kAlwaysOn, 1.0, true};
  } else if (sampler == "always_on") {
    s = {SamplerConfig::Root::kAlwaysOn, 1.0, false};
  } else if (sampler == "always_off") {
    s = {SamplerConfig::Root::kAlwaysOff, 0.0, false};
  } else if (sampler == "parentbased_always_off") {
    s = {SamplerConfig::Root::kAlwaysOff, 0.0, true};
  } else if (sampler == "traceidratio" || sampler == "parentbased_traceidratio") {
    s = {SamplerConfig::Root::kRatio, 1.0, sampler != "traceidratio"};
    if (!arg.empty()) {
      char* end = nullptr;
      double ratio = std::strtod(arg.c_str(), &end);
      if (end != arg.c_str() + arg.size() || !(ratio >= 0.0 && ratio <= 1.0)) {
        return absl::InvalidArgumentError(
            StrCat("OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1, not '", arg, "'"));
      }
      s.ratio = ratio;
    }
  } else {
    return absl::InvalidArgumentError(
        StrCat("OTEL_TRACES_SAMPLER '", sampler,
               "' is not one of always_on, always_off, traceidratio, parentbased_always_on, "
               "parentbased_always_off, parentbased_traceidratio"));
  }

  config.service_name = get("OTEL_SERVICE_NAME");
  if (config.service_name.empty()) config.service_name = std::string(default_service);
  config.resource_attributes.emplace_back("service.name", config.service_name);
  for (const std::string& item : SplitList(get("OTEL_RESOURCE_ATTRIBUTES"))) {
    size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(
          StrCat("OTEL_RESOURCE_ATTRIBUTES: '", item, "' is not key=value"));
    }
    std::string key = PercentDecode(TrimBlanks(std::string_view(item).substr(0, eq)));
    if (key == "service.name") continue;  // OTEL_SERVICE_NAME (or the default) wins
    config.resource_attributes.emplace_back(
        key, PercentDecode(TrimBlanks(std::string_view(item).substr(eq + 1))));
  }
  config.resource_attributes.emplace_back("telemetry.sdk.name", "switchboard");
  config.resource_attributes.emplace_back("telemetry.sdk.language", "cpp");

  auto queue = PositiveSize(getenv, "OTEL_BSP_MAX_QUEUE_SIZE", config.max_queue);
  if (!queue.ok()) return queue.status();
  auto batch = PositiveSize(getenv, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", config.max_batch);
  if (!batch.ok()) return batch.status();
  auto delay = PositiveSize(getenv, "OTEL_BSP_SCHEDULE_DELAY", config.schedule_delay.count());
  if (!delay.ok()) return delay.status();
  auto timeout = PositiveSize(getenv, "OTEL_BSP_EXPORT_TIMEOUT", config.export_timeout.count());
  if (!timeout.ok()) return timeout.status();
  config.max_queue = *queue;
  config.max_batch = std::min(*batch, *queue);
  config.schedule_delay = std::chrono::milliseconds(*delay);
  config.export_timeout = std::chrono::milliseconds(*timeout);
  return config;
}

Span::Span(Span&& other) noexcept
    : context_(std::move(other.context_)), data_(std::move(other.data_)), tracer_(other.tracer_) {
  other.tracer_ = nullptr;
}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    End();
    context_ = std::move(other.context_);
    data_ = std::move(other.data_);
    tracer_ = other.tracer_;
    other.tracer_ = nullptr;
  }
  return *this;
}

void Span::SetAttribute(std::string_view key, std::string_view value) {
  if (data_) data_->attributes.emplace_back(std::string(key), std::string(value));
}
void Span::SetAttribute(std::string_view key, int64_t value) {
  if (data_) data_->attributes.emplace_back(std::string(key), value);
}
void Span::SetAttribute(std::string_view key, bool value) {
  if (data_) data_->attributes.emplace_back(std::string(key), value);
}
void Span::SetAttribute(std::string_view key, double value) {
  if (data_) data_->attributes.emplace_back(std::string(key), value);
}

void Span::SetStatus(StatusCode code, std::string_view message) {
  if (!data_) return;
  data_->status = code;
  data_->status_message = code == StatusCode::kError ? std::string(message) : std::string();
}

void Span::End() {
  if (!data_ || tracer_ == nullptr) return;
  data_->end_unix_nano = NowUnixNano();
  tracer_->Finish(std::move(data_));
}

TraceHeaders Span::Headers(std::string_view baggage) const {
  TraceHeaders headers;
  if (!context_.valid()) return headers;
  headers.traceparent = FormatTraceparent(context_);
  headers.tracestate = context_.trace_state;
  headers.baggage = std::string(baggage);
  return headers;
}

Tracer::Tracer() = default;
Tracer::~Tracer() { Shutdown(std::chrono::milliseconds(0)); }

Tracer& Tracer::Global() {
  static Tracer* tracer = new Tracer();  // never destroyed: spans may end during exit
  return *tracer;
}

void Tracer::Configure(TracerConfig config) {
  sampler_ = config.sampler;
  enabled_ = false;  // until the exporter is ready
  if (!config.enabled) return;
  absl::StatusOr<std::unique_ptr<ExportTransport>> transport = MakeTransport(config);
  if (!transport.ok()) {
    log::Error("tracing stays off", {{"error", std::string(MessageOf(transport.status()))}});
    return;
  }
  log::Info("exporting traces",
            {{"collector", config.endpoint},
             {"protocol", config.protocol == OtlpProtocol::kGrpc ? "grpc" : "http/protobuf"},
             {"service_name", config.service_name}});
  exporter_ = std::make_unique<BatchExporter>(std::move(*transport), std::move(config));
  enabled_ = true;
}

void Tracer::Shutdown(std::chrono::milliseconds timeout) {
  if (exporter_) exporter_->Shutdown(timeout);
}

bool Tracer::Sample(const SpanContext& parent, const TraceId& trace_id) const {
  if (sampler_.parent_based && parent.valid()) return parent.sampled();
  switch (sampler_.root) {
    case SamplerConfig::Root::kAlwaysOn:
      return true;
    case SamplerConfig::Root::kAlwaysOff:
      return false;
    case SamplerConfig::Root::kRatio: {
      if (sampler_.ratio >= 1.0) return true;
      if (sampler_.ratio <= 0.0) return false;
      // The trace id's last 8 bytes as a number, below ratio * 2^64: every service that sees
      // the trace decides the same way.
      uint64_t value = 0;
      for (size_t i = 8; i < 16; ++i) value = (value << 8) | trace_id[i];
      return static_cast<double>(value) < sampler_.ratio * 18446744073709551616.0;
    }
  }
  return false;
}

Span Tracer::StartSpan(std::string_view name, SpanKind kind, const SpanContext& parent) {
  Span span;
  if (!enabled_) {
    span.context_ = parent;
    return span;
  }
  bool has_parent = parent.valid();
  span.context_.trace_id = has_parent ? parent.trace_id : NewTraceId();
  span.context_.span_id = NewSpanId();
  span.context_.trace_state = has_parent ? parent.trace_state : std::string();
  bool sampled = Sample(parent, span.context_.trace_id);
  span.context_.flags =
      static_cast<uint8_t>((has_parent ? parent.flags & ~0x01 : 0) | (sampled ? 0x01 : 0));
  if (!sampled) return span;
  span.data_ = std::make_unique<SpanData>();
  SpanData& data = *span.data_;
  data.context = span.context_;
  if (has_parent) {
    data.parent_span_id = parent.span_id;
    data.parent_remote = parent.remote;
  }
  data.name = std::string(name);
  data.kind = kind;
  data.start_unix_nano = NowUnixNano();
  data.attributes.reserve(8);
  span.tracer_ = this;
  return span;
}

void Tracer::Finish(std::unique_ptr<SpanData> data) {
  if (exporter_) exporter_->Enqueue(std::move(data));
}

uint64_t Tracer::dropped() const { return exporter_ ? exporter_->dropped() : 0; }
uint64_t Tracer::exported() const { return exporter_ ? exporter_->exported() : 0; }

ScopedActive::ScopedActive(const SpanContext& context) : previous_(g_current) {
  log::CurrentTraceIds(&previous_trace_id_, &previous_span_id_);
  if (context.valid()) {
    g_current = &context;
    trace_id_ = ToHex(context.trace_id);
    span_id_ = ToHex(context.span_id);
    log::SetCurrentTraceIds(&trace_id_, &span_id_);
  } else {
    g_current = nullptr;
    log::SetCurrentTraceIds(nullptr, nullptr);
  }
}

ScopedActive::~ScopedActive() {
  g_current = previous_;
  log::SetCurrentTraceIds(previous_trace_id_, previous_span_id_);
}

const SpanContext* CurrentContext() { return g_current; }

void ConfigureTracingOrExit(std::string_view service) {
  absl::StatusOr<TracerConfig> config = ConfigFromEnv(service);
  if (!config.ok()) ExitWithError(service, MessageOf(config.status()), 2);
  Tracer::Global().Configure(std::move(*config));
}

}  // namespace switchboard::telemetry
