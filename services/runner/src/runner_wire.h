#pragma once

#include <absl/status/statusor.h>

#include <memory>
#include <string>

#include "services/runner/src/runner_service.h"
#include "switchboard/wire/connection.h"

namespace switchboard::runner {

// Serves Attach over wire connections (wire::kRunnerAttach) on `listen`, on the service's own
// I/O thread: each connection is one attachment, opened by its first frame (Open), and its
// frames cross no thread in the runner. An attachment the service ends or refuses gets a last
// frame, Closed, with the status. Stop the listener before the service shuts down.
absl::StatusOr<std::unique_ptr<wire::Listener>> ServeAttach(RunnerService* service,
                                                            const std::string& listen);

}  // namespace switchboard::runner
