#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "switchboard/auth/v1/auth.pb.h"
#include "switchboard/configwatch/config_view.h"

namespace switchboard::auth {

// One limit that applies to a request: its Redis bucket and how many requests per minute it
// lets through (a whole minute's worth may come at once, then one every 60/rate seconds).
struct Limit {
  std::string key;
  int32_t per_minute = 0;
  std::string scope;  // "user", "endpoint" or "tool": which limit refused, safe to show
};

// Every limit the configuration sets for an allowed request: the endpoint's per-user and
// overall limits, and for a tools/call the per-user limit of the tool's override. The caller
// is the response's user, or "anon:<address>" on an open endpoint without a key. Keys share
// the endpoint as their Redis hash tag, so one script may touch them all in a cluster.
std::vector<Limit> LimitsFor(const v1::AuthorizeRequest& request,
                             const v1::AuthorizeResponse& allowed,
                             const configwatch::ConfigView& view);

// The tool override that governs `tool` (the name clients see) in namespace `ns`: a renaming
// override by its new name, else "{server}__{tool}" (or the bare tool of a namespace without
// prefixes). nullptr when none.
const registry::v1::ToolOverride* FindOverrideOfCall(const configwatch::ConfigView& view,
                                                     std::string_view ns, std::string_view tool);

}  // namespace switchboard::auth
