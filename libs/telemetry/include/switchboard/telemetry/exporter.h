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

#include "switchboard/telemetry/tracer.h"

namespace switchboard::telemetry {

// Encodes spans as one OTLP ExportTraceServiceRequest (protobuf bytes) under one resource.
std::string EncodeExportRequest(
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

// Batches finished spans and exports them from its own thread: a batch leaves when it is full
// or `schedule_delay` after its first span. The queue is bounded: a span that finds it full is
// dropped and counted, never waited for, so a dead collector costs callers nothing but spans.
class BatchExporter {
 public:
  BatchExporter(HttpTarget target, TracerConfig config);
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

  HttpTarget target_;
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
