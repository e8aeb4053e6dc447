#pragma once

#include <iosfwd>

#include "tools/sbctl/src/cli.h"
#include "tools/sbctl/src/registry_client.h"
#include "tools/sbctl/src/runner_client.h"

namespace switchboard::sbctl {

// Runs a parsed command against the registry. Results go to `out`; notes and errors go to
// `err` as "sbctl: ..." lines. Returns the exit status: 0 done, 1 the registry refused the
// request or could not be reached, 2 bad input (an unreadable or invalid file).
int Execute(const Command& command, RegistryClient& client, std::ostream& out, std::ostream& err);

// Runs a parsed runner command (IsRunnerVerb) against the runner; same conventions.
int ExecuteRunner(const Command& command, RunnerClient& client, std::ostream& out,
                  std::ostream& err);

}  // namespace switchboard::sbctl
