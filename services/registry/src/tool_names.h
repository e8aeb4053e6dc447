#pragma once

#include <absl/status/status.h>

#include <map>
#include <string>
#include <vector>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::registry {

// The tool names each server last reported (as the router fetched them), by server.
using KnownTools = std::map<std::string, std::vector<std::string>, std::less<>>;

// Checks the names clients would see in every namespace of `after` (its enabled members' known
// tools, prefixed unless the namespace turns prefixing off, renamed and hidden by its tool
// overrides) and refuses, with InvalidArgument naming the namespace, a name longer than MCP's
// 128 characters or one two tools would share, suggesting the tool override that fixes it.
// Problems that `before` already had are not this change's doing and pass (the router leaves
// such tools out of lists and reports them in its status). Tools of servers that never
// reported are not known, so not checked.
absl::Status CheckToolNames(const v1::Snapshot& before, const v1::Snapshot& after,
                            const KnownTools& known);

}  // namespace switchboard::registry
