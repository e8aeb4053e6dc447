// sbctl: the command-line client of the registry's admin API.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "switchboard/common/status.h"
#include "tools/sbctl/src/cli.h"
#include "tools/sbctl/src/commands.h"
#include "tools/sbctl/src/registry_client.h"

int main(int argc, char** argv) {
  namespace sbctl = switchboard::sbctl;
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<sbctl::Command> command =
      sbctl::ParseArgs(args, std::getenv("SWITCHBOARD_REGISTRY_ADDRESS"),
                       std::getenv("SWITCHBOARD_RUNNER_ADDRESS"));
  if (!command.ok()) {
    std::cerr << "sbctl: " << switchboard::MessageOf(command.status())
              << "\nRun 'sbctl --help' for usage.\n";
    return 2;
  }
  if (command->verb == sbctl::Verb::kHelp) {
    std::cout << sbctl::Usage();
    return 0;
  }
  if (command->admin_token.empty()) {
    if (const char* token = std::getenv("SWITCHBOARD_ADMIN_TOKEN")) command->admin_token = token;
  }
  if (sbctl::IsRunnerVerb(command->verb)) {
    std::unique_ptr<sbctl::RunnerClient> runner =
        sbctl::MakeGrpcRunnerClient(command->runner, std::chrono::seconds(30),
                                    command->admin_token);
    return sbctl::ExecuteRunner(*command, *runner, std::cout, std::cerr);
  }
  std::unique_ptr<sbctl::RegistryClient> client =
      sbctl::MakeGrpcRegistryClient(command->registry, std::chrono::seconds(30),
                                    command->admin_token);
  return sbctl::Execute(*command, *client, std::cout, std::cerr);
}
