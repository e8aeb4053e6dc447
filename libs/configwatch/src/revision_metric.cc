#include "switchboard/configwatch/revision_metric.h"

#include "switchboard/telemetry/metrics.h"

namespace switchboard::configwatch {

void ExportRevisionMetric(const ConfigCache& cache) {
  telemetry::GaugeFromCallback("sb_config_revision",
                               "The registry revision of the configuration this service holds",
                               [&cache] {
                                 std::shared_ptr<const ConfigView> view = cache.Current();
                                 return view ? static_cast<double>(view->revision()) : 0.0;
                               });
}

}  // namespace switchboard::configwatch
