// sb-load: the load generator that measures Switchboard (and any MCP endpoint or STDIO server).
#include <sys/resource.h>

#include <csignal>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "switchboard/common/status.h"
#include "tools/sb-load/src/load_runner.h"
#include "tools/sb-load/src/options.h"

namespace {

// Many sessions need many descriptors: take the hard limit.
void RaiseFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  namespace load = switchboard::load;
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<load::Options> options = load::ParseArgs(args, std::getenv("SB_LOAD_KEY"));
  if (!options.ok()) {
    std::cerr << "sb-load: " << switchboard::MessageOf(options.status())
              << " (sb-load --help for usage)\n";
    return 2;
  }
  if (options->help) {
    std::cout << load::Usage();
    return 0;
  }
  std::signal(SIGPIPE, SIG_IGN);
  RaiseFileLimit();
  try {
    load::Report report = load::RunLoad(*options, /*stop_on_signals=*/true);
    std::cout << (options->json ? load::FormatJson(report) : load::FormatText(report));
    bool worked = report.mode == "idle" ? report.sessions_opened == options->idle_sessions
                                        : report.ok > 0 && report.failed == 0;
    return worked && report.setup_errors.empty() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "sb-load: " << e.what() << "\n";
    return 1;
  }
}
