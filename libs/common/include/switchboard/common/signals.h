#pragma once

#include <string_view>

namespace switchboard {

// Blocks SIGTERM, SIGINT and SIGPIPE in the calling thread and every thread it starts later.
// Call first thing in main(), before any thread exists.
void BlockTerminationSignals();

// Waits until SIGTERM or SIGINT arrives; returns the signal number.
int WaitForTerminationSignal();

// Prints "<program>: <message>" on stderr and exits with `code`: the one-line way every binary
// reports a start-up error.
[[noreturn]] void ExitWithError(std::string_view program, std::string_view message, int code = 1);

}  // namespace switchboard
