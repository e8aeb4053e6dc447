#pragma once

#include <absl/status/statusor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <functional>
#include <memory>
#include <string>

namespace switchboard::telemetry {

// The process-wide Prometheus registry every service registers its metric families in.
prometheus::Registry& MetricsRegistry();

// Runs `hook` before every scrape (to refresh gauges read from elsewhere: queue depths, process
// states). Hooks run on the scraping thread and must not block.
void OnScrape(std::function<void()> hook);

// Registers gauge `name` whose value `read` gives at each scrape (read must not block long).
void GaugeFromCallback(const std::string& name, const std::string& help,
                       std::function<double()> read);

// The registry's metrics in the Prometheus text exposition format (what /metrics serves), after
// the scrape hooks have run.
std::string SerializeMetrics();

// Latency buckets, in seconds, for request and upstream histograms (1 ms to 60 s).
const prometheus::Histogram::BucketBoundaries& LatencyBuckets();

// Serves GET /metrics from MetricsRegistry() on its own small HTTP server (the gRPC services'
// metrics port).
class MetricsServer;

// Starts the metrics server of `program` on `host_port`; nullptr when `host_port` is empty (no
// metrics port). Ends the process with one clear line when it cannot listen.
std::unique_ptr<MetricsServer> StartMetricsOrExit(std::string_view program,
                                                  const std::string& host_port);

class MetricsServer {
 public:
  // Listens on `host_port` ("127.0.0.1:8101"); an error when the address cannot be bound.
  static absl::StatusOr<std::unique_ptr<MetricsServer>> Start(const std::string& host_port);
  ~MetricsServer();
  int port() const;

 private:
  struct Impl;
  explicit MetricsServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace switchboard::telemetry
