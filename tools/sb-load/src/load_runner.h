#pragma once

#include "tools/sb-load/src/options.h"
#include "tools/sb-load/src/report.h"

namespace switchboard::load {

// Runs what `options` describe on its own io_context in the calling thread and returns the
// figures. Load mode: opens `connections` sessions, runs the workload (closed or open loop)
// through the warm-up and the measured window, no new request after --duration (or after
// --requests measured ones), then waits for requests in flight (each bounded by --timeout).
// Idle mode: opens --idle-sessions sessions, holds them, samples the watched processes' RSS
// before and at the end of the hold, then ends them. With `stop_on_signals`, SIGINT or
// SIGTERM ends the run early and the figures so far are returned.
Report RunLoad(const Options& options, bool stop_on_signals);

}  // namespace switchboard::load
