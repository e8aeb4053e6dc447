#pragma once

namespace switchboard {

// Blocks SIGTERM, SIGINT and SIGPIPE in the calling thread and every thread it starts later.
// Call first thing in main(), before any thread exists.
void BlockTerminationSignals();

// Waits until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForTerminationSignal();

}  // namespace switchboard
