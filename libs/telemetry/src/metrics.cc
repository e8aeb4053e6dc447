#include "switchboard/telemetry/metrics.h"

#include <prometheus/exposer.h>
#include <prometheus/text_serializer.h>

#include <mutex>
#include <vector>

#include "switchboard/common/signals.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include "switchboard/telemetry/tracer.h"

namespace switchboard::telemetry {

namespace {

// The registry seen through the scrape hooks.
class HookedRegistry : public prometheus::Collectable {
 public:
  void Add(std::function<void()> hook) {
    std::lock_guard<std::mutex> lock(mu_);
    hooks_.push_back(std::move(hook));
  }
  std::vector<prometheus::MetricFamily> Collect() const override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& hook : hooks_) hook();
    }
    return MetricsRegistry().Collect();
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::function<void()>> hooks_;
};

HookedRegistry& Hooked() {
  static auto* hooked = new HookedRegistry();
  return *hooked;
}

}  // namespace

void OnScrape(std::function<void()> hook) { Hooked().Add(std::move(hook)); }

void GaugeFromCallback(const std::string& name, const std::string& help,
                       std::function<double()> read) {
  prometheus::Gauge& gauge =
      prometheus::BuildGauge().Name(name).Help(help).Register(MetricsRegistry()).Add({});
  OnScrape([&gauge, read = std::move(read)] { gauge.Set(read()); });
}

prometheus::Registry& MetricsRegistry() {
  static auto* registry = new prometheus::Registry();  // never destroyed: used until exit
  return *registry;
}

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries buckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60};
  return buckets;
}

std::string SerializeMetrics() {
  return prometheus::TextSerializer().Serialize(Hooked().Collect());
}

struct MetricsServer::Impl {
  std::shared_ptr<prometheus::Collectable> registry;  // the exposer keeps only a weak_ptr
  std::unique_ptr<prometheus::Exposer> exposer;
};

MetricsServer::MetricsServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
MetricsServer::~MetricsServer() = default;

absl::StatusOr<std::unique_ptr<MetricsServer>> MetricsServer::Start(const std::string& host_port) {
  auto impl = std::make_unique<Impl>();
  try {
    impl->exposer = std::make_unique<prometheus::Exposer>(host_port, /*num_threads=*/1);
  } catch (const std::exception& e) {
    return absl::UnavailableError(
        StrCat("cannot serve metrics on ", host_port, ": ", std::string_view(e.what())));
  }
  impl->registry =
      std::shared_ptr<prometheus::Collectable>(&Hooked(), [](prometheus::Collectable*) {});
  impl->exposer->RegisterCollectable(impl->registry);
  return std::unique_ptr<MetricsServer>(new MetricsServer(std::move(impl)));
}

std::unique_ptr<MetricsServer> StartMetricsOrExit(std::string_view program,
                                                  const std::string& host_port) {
  if (host_port.empty()) return nullptr;
  absl::StatusOr<std::unique_ptr<MetricsServer>> server = MetricsServer::Start(host_port);
  if (!server.ok()) ExitWithError(program, MessageOf(server.status()), 2);
  return std::move(*server);
}

int MetricsServer::port() const {
  std::vector<int> ports = impl_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : ports.front();
}

}  // namespace switchboard::telemetry
