#pragma once

#include <string>
#include <string_view>

namespace switchboard::jsonrpc {

// Separator between a server's name and a tool or prompt name (MetaMCP's scheme).
inline constexpr std::string_view kPrefixSeparator = "__";
// MCP's limit on tool names.
inline constexpr size_t kMaxToolNameLength = 128;

// "{server}__{name}".
std::string PrefixedName(std::string_view server, std::string_view name);

// Splits "{server}__{name}" at the first separator. Server names never contain "__", so the
// first one is the boundary; false when there is none or either side is empty.
bool SplitPrefixedName(std::string_view full, std::string_view* server, std::string_view* name);

// True when `name` is 1-128 characters of [A-Za-z0-9_.-].
bool IsValidToolName(std::string_view name);

}  // namespace switchboard::jsonrpc
