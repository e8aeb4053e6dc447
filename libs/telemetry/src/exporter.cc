#include "switchboard/telemetry/exporter.h"

#include <grpcpp/grpcpp.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>

#include "opentelemetry/proto/collector/trace/v1/trace_service.grpc.pb.h"
#include "switchboard/common/log.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include "switchboard/telemetry/metrics.h"

namespace switchboard::telemetry {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace otlp_common = opentelemetry::proto::common::v1;
namespace otlp_trace = opentelemetry::proto::trace::v1;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceRequest;
using opentelemetry::proto::collector::trace::v1::ExportTraceServiceResponse;
using opentelemetry::proto::collector::trace::v1::TraceService;

constexpr char kScopeName[] = "switchboard";

void SetValue(const AttributeValue& value, otlp_common::AnyValue* out) {
  if (const auto* s = std::get_if<std::string>(&value)) {
    out->set_string_value(*s);
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    out->set_int_value(*i);
  } else if (const auto* b = std::get_if<bool>(&value)) {
    out->set_bool_value(*b);
  } else if (const auto* d = std::get_if<double>(&value)) {
    out->set_double_value(*d);
  }
}

template <size_t N>
std::string Bytes(const std::array<uint8_t, N>& id) {
  return std::string(reinterpret_cast<const char*>(id.data()), N);
}

prometheus::Family<prometheus::Counter>& SpanCounters() {
  static auto& family = prometheus::BuildCounter()
                            .Name("sb_otel_spans_total")
                            .Help("Finished spans by what became of them (exported, dropped)")
                            .Register(MetricsRegistry());
  return family;
}

// OTLP/HTTP: the request's bytes POSTed to the traces URL.
class HttpTransport : public ExportTransport {
 public:
  explicit HttpTransport(HttpTarget target) : target_(std::move(target)) {}
  absl::Status Export(const ExportTraceServiceRequest& request,
                      std::chrono::milliseconds timeout) override {
    return PostProtobuf(target_, request.SerializeAsString(), timeout);
  }

 private:
  HttpTarget target_;
};

// OTLP/gRPC: TraceService/Export on one long-lived channel (gRPC reconnects it as needed).
class GrpcTransport : public ExportTransport {
 public:
  explicit GrpcTransport(const GrpcTarget& target)
      : stub_(TraceService::NewStub(grpc::CreateChannel(
            target.address, target.tls ? grpc::SslCredentials(grpc::SslCredentialsOptions())
                                       : grpc::InsecureChannelCredentials()))) {}
  absl::Status Export(const ExportTraceServiceRequest& request,
                      std::chrono::milliseconds timeout) override {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + timeout);
    ExportTraceServiceResponse response;
    grpc::Status status = stub_->Export(&context, request, &response);
    if (!status.ok()) {
      return absl::UnavailableError(StrCat("the collector answered gRPC status ",
                                           static_cast<int>(status.error_code()), ": ",
                                           status.error_message()));
    }
    return absl::OkStatus();
  }

 private:
  std::unique_ptr<TraceService::Stub> stub_;
};

}  // namespace

ExportTraceServiceRequest BuildExportRequest(
    const std::vector<std::pair<std::string, std::string>>& resource_attributes,
    const std::vector<std::unique_ptr<SpanData>>& spans) {
  ExportTraceServiceRequest request;
  otlp_trace::ResourceSpans* resource_spans = request.add_resource_spans();
  for (const auto& [key, value] : resource_attributes) {
    otlp_common::KeyValue* kv = resource_spans->mutable_resource()->add_attributes();
    kv->set_key(key);
    kv->mutable_value()->set_string_value(value);
  }
  otlp_trace::ScopeSpans* scope_spans = resource_spans->add_scope_spans();
  scope_spans->mutable_scope()->set_name(kScopeName);
  for (const std::unique_ptr<SpanData>& data : spans) {
    otlp_trace::Span* span = scope_spans->add_spans();
    span->set_trace_id(Bytes(data->context.trace_id));
    span->set_span_id(Bytes(data->context.span_id));
    span->set_trace_state(data->context.trace_state);
    bool has_parent = false;
    for (uint8_t b : data->parent_span_id) has_parent = has_parent || b != 0;
    if (has_parent) span->set_parent_span_id(Bytes(data->parent_span_id));
    // Bits 0-7: W3C flags; bit 8: whether the parent is known; bit 9: whether it is remote.
    uint32_t flags = data->context.flags | 0x100u;
    if (has_parent && data->parent_remote) flags |= 0x200u;
    span->set_flags(flags);
    span->set_name(data->name);
    span->set_kind(static_cast<otlp_trace::Span::SpanKind>(static_cast<int>(data->kind)));
    span->set_start_time_unix_nano(data->start_unix_nano);
    span->set_end_time_unix_nano(data->end_unix_nano);
    for (const auto& [key, value] : data->attributes) {
      otlp_common::KeyValue* kv = span->add_attributes();
      kv->set_key(key);
      SetValue(value, kv->mutable_value());
    }
    if (data->status != StatusCode::kUnset) {
      span->mutable_status()->set_code(
          static_cast<otlp_trace::Status::StatusCode>(static_cast<int>(data->status)));
      span->mutable_status()->set_message(data->status_message);
    }
  }
  return request;
}

absl::StatusOr<HttpTarget> ParseHttpTarget(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return absl::InvalidArgumentError(StrCat("'", url, "' is not a URL"));
  if (parsed->scheme() != "http") {
    return absl::InvalidArgumentError(
        StrCat("'", url, "': only http:// OTLP endpoints are supported (use a local collector)"));
  }
  HttpTarget target;
  target.host = std::string(parsed->host_address());
  if (target.host.empty()) return absl::InvalidArgumentError(StrCat("'", url, "' has no host"));
  if (target.host.size() > 2 && target.host.front() == '[') {
    target.host = target.host.substr(1, target.host.size() - 2);
  }
  target.port = parsed->has_port() ? std::string(parsed->port()) : "80";
  target.path = std::string(parsed->encoded_path());
  if (target.path.empty()) target.path = "/";
  return target;
}

absl::Status PostProtobuf(const HttpTarget& target, const std::string& body,
                          std::chrono::milliseconds timeout) {
  asio::io_context context;
  beast::tcp_stream stream(context);
  absl::Status result = absl::DeadlineExceededError("export timed out");
  http::request<http::string_body> request{http::verb::post, target.path, 11};
  request.set(http::field::host, target.host);
  request.set(http::field::content_type, "application/x-protobuf");
  request.set(http::field::user_agent, "switchboard-otlp");
  request.body() = body;
  request.prepare_payload();
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  asio::ip::tcp::resolver resolver(context);
  stream.expires_after(timeout);
  resolver.async_resolve(
      target.host, target.port, [&](beast::error_code ec, asio::ip::tcp::resolver::results_type r) {
        if (ec) {
          result =
              absl::UnavailableError(StrCat("cannot resolve ", target.host, ": ", ec.message()));
          return;
        }
        stream.async_connect(r, [&](beast::error_code cec, const asio::ip::tcp::endpoint&) {
          if (cec) {
            result = absl::UnavailableError(StrCat("cannot connect: ", cec.message()));
            return;
          }
          http::async_write(stream, request, [&](beast::error_code wec, size_t) {
            if (wec) {
              result = absl::UnavailableError(StrCat("cannot send: ", wec.message()));
              return;
            }
            http::async_read(stream, buffer, response, [&](beast::error_code rec, size_t) {
              if (rec) {
                result = absl::UnavailableError(StrCat("no answer: ", rec.message()));
              } else if (response.result_int() / 100 != 2) {
                result = absl::UnavailableError(
                    StrCat("the collector answered HTTP ", response.result_int()));
              } else {
                result = absl::OkStatus();
              }
            });
          });
        });
      });
  // Every operation is bounded by the stream's expiry; the resolve by this run's own limit.
  context.run_for(timeout + std::chrono::milliseconds(100));
  beast::error_code ignored;
  stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  return result;
}

absl::StatusOr<GrpcTarget> ParseGrpcTarget(std::string_view endpoint, bool insecure) {
  GrpcTarget target;
  std::string_view rest = endpoint;
  if (rest.starts_with("http://")) {
    target.tls = false;
    rest.remove_prefix(7);
  } else if (rest.starts_with("https://")) {
    rest.remove_prefix(8);
  } else if (rest.find("://") != std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat("'", endpoint, "': a gRPC endpoint is http://, https:// or host:port"));
  } else {
    target.tls = !insecure;
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find('/') != std::string_view::npos) {
    return absl::InvalidArgumentError(
        StrCat("'", endpoint, "': a gRPC endpoint has no path (it is host:port)"));
  }
  if (rest.empty() || rest.front() == ':') {
    return absl::InvalidArgumentError(StrCat("'", endpoint, "' has no host"));
  }
  target.address = std::string(rest);
  // Without a port, the scheme's (as for OTLP/HTTP URLs).
  size_t colon = target.address.rfind(':');
  size_t bracket = target.address.rfind(']');
  if (colon == std::string::npos || (bracket != std::string::npos && colon < bracket)) {
    target.address += target.tls ? ":443" : ":80";
  }
  return target;
}

absl::StatusOr<std::unique_ptr<ExportTransport>> MakeTransport(const TracerConfig& config) {
  if (config.protocol == OtlpProtocol::kGrpc) {
    absl::StatusOr<GrpcTarget> target = ParseGrpcTarget(config.endpoint, config.insecure);
    if (!target.ok()) return target.status();
    return std::unique_ptr<ExportTransport>(std::make_unique<GrpcTransport>(*target));
  }
  absl::StatusOr<HttpTarget> target = ParseHttpTarget(config.endpoint);
  if (!target.ok()) return target.status();
  return std::unique_ptr<ExportTransport>(std::make_unique<HttpTransport>(std::move(*target)));
}

BatchExporter::BatchExporter(std::unique_ptr<ExportTransport> transport, TracerConfig config)
    : transport_(std::move(transport)), config_(std::move(config)) {
  SpanCounters().Add({{"outcome", "exported"}});
  SpanCounters().Add({{"outcome", "dropped"}});
  thread_ = std::thread([this] { Run(); });
}

BatchExporter::~BatchExporter() { Shutdown(std::chrono::milliseconds(0)); }

bool BatchExporter::Enqueue(std::unique_ptr<SpanData> span) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopping_ && queue_.size() < config_.max_queue) {
      if (queue_.empty()) deadline_ = std::chrono::steady_clock::now() + config_.schedule_delay;
      queue_.push_back(std::move(span));
      if (queue_.size() >= config_.max_batch) cv_.notify_one();
      return true;
    }
  }
  dropped_.fetch_add(1);
  static prometheus::Counter& dropped = SpanCounters().Add({{"outcome", "dropped"}});
  dropped.Increment();
  return false;
}

size_t BatchExporter::queued() const {
  std::lock_guard<std::mutex> lock(mu_);
  return queue_.size();
}

void BatchExporter::Shutdown(std::chrono::milliseconds timeout) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    config_.export_timeout =
        std::min(config_.export_timeout, std::max(timeout, std::chrono::milliseconds(1)));
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void BatchExporter::Run() {
  static prometheus::Counter& exported = SpanCounters().Add({{"outcome", "exported"}});
  static prometheus::Counter& dropped = SpanCounters().Add({{"outcome", "dropped"}});
  bool warned = false;
  while (true) {
    std::vector<std::unique_ptr<SpanData>> batch;
    std::chrono::milliseconds timeout;
    bool last = false;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait_until(
          lock,
          queue_.empty() ? std::chrono::steady_clock::now() + config_.schedule_delay : deadline_,
          [&] {
            return stopping_ || queue_.size() >= config_.max_batch ||
                   (!queue_.empty() && std::chrono::steady_clock::now() >= deadline_);
          });
      if (queue_.empty()) {
        if (stopping_) return;
        continue;
      }
      size_t n = std::min(queue_.size(), config_.max_batch);
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        batch.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
      if (!queue_.empty()) deadline_ = std::chrono::steady_clock::now();
      timeout = config_.export_timeout;
      last = stopping_ && queue_.empty();
    }
    absl::Status sent =
        transport_->Export(BuildExportRequest(config_.resource_attributes, batch), timeout);
    if (sent.ok()) {
      exported_.fetch_add(batch.size());
      exported.Increment(static_cast<double>(batch.size()));
      warned = false;
    } else {
      dropped_.fetch_add(batch.size());
      dropped.Increment(static_cast<double>(batch.size()));
      // One line per outage, not one per batch.
      if (!warned) {
        log::Warn("cannot export spans", {{"error", std::string(MessageOf(sent))},
                                          {"dropped", static_cast<int64_t>(batch.size())}});
        warned = true;
      }
    }
    if (last) return;
  }
}

}  // namespace switchboard::telemetry
