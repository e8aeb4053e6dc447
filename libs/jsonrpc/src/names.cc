#include "switchboard/jsonrpc/names.h"

namespace switchboard::jsonrpc {

std::string PrefixedName(std::string_view server, std::string_view name) {
  std::string out;
  out.reserve(server.size() + kPrefixSeparator.size() + name.size());
  out.append(server);
  out.append(kPrefixSeparator);
  out.append(name);
  return out;
}

bool SplitPrefixedName(std::string_view full, std::string_view* server, std::string_view* name) {
  size_t at = full.find(kPrefixSeparator);
  if (at == std::string_view::npos || at == 0 || at + kPrefixSeparator.size() >= full.size()) {
    return false;
  }
  *server = full.substr(0, at);
  *name = full.substr(at + kPrefixSeparator.size());
  return true;
}

bool IsValidToolName(std::string_view name) {
  if (name.empty() || name.size() > kMaxToolNameLength) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == '-';
    if (!ok) return false;
  }
  return true;
}

}  // namespace switchboard::jsonrpc
