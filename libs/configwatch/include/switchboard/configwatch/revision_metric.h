#pragma once

#include "switchboard/configwatch/config_cache.h"

namespace switchboard::configwatch {

// Exports sb_config_revision, the registry revision `cache` holds, on every scrape (Watch lag
// is the registry's sb_registry_revision minus it). `cache` must outlive the metrics server.
void ExportRevisionMetric(const ConfigCache& cache);

}  // namespace switchboard::configwatch
