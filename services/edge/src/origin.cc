#include "services/edge/src/origin.h"

#include <charconv>

#include "services/edge/src/http_types.h"
#include "switchboard/common/strings.h"

namespace switchboard::edge {

std::string ParsedOrigin::ToString() const { return StrCat(scheme, "://", host, ":", port); }

std::optional<ParsedOrigin> ParseOrigin(std::string_view origin) {
  size_t sep = origin.find("://");
  if (sep == std::string_view::npos) return std::nullopt;
  ParsedOrigin out;
  out.scheme = AsciiLower(origin.substr(0, sep));
  if (out.scheme != "http" && out.scheme != "https") return std::nullopt;
  std::string_view rest = origin.substr(sep + 3);
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.empty()) return std::nullopt;
  std::string_view host;
  std::string_view port;
  if (rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    host = rest.substr(0, close + 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return std::nullopt;
      port = after.substr(1);
      if (port.empty()) return std::nullopt;
    }
  } else {
    size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = rest.substr(colon + 1);
      if (port.empty()) return std::nullopt;
    }
  }
  if (host.empty()) return std::nullopt;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '[' || c == ']' || c == ':';
    if (!ok) return std::nullopt;
  }
  out.host = AsciiLower(host);
  if (port.empty()) {
    out.port = out.scheme == "https" ? 443 : 80;
  } else {
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), out.port);
    if (ec != std::errc() || ptr != port.data() + port.size() || out.port < 1 || out.port > 65535) {
      return std::nullopt;
    }
  }
  return out;
}

absl::StatusOr<OriginPolicy> OriginPolicy::Create(const std::vector<std::string>& allowed) {
  OriginPolicy policy;
  for (const std::string& entry : allowed) {
    if (entry == "*") {
      policy.any_ = true;
      continue;
    }
    std::optional<ParsedOrigin> parsed = ParseOrigin(entry);
    if (!parsed) {
      return absl::InvalidArgumentError(
          StrCat("'", entry, "' is not an origin such as https://app.example.com or *"));
    }
    policy.allowed_.push_back(*parsed);
  }
  return policy;
}

bool OriginPolicy::IsAllowed(std::string_view origin) const {
  if (any_) return true;
  std::optional<ParsedOrigin> parsed = ParseOrigin(origin);
  if (!parsed) return false;
  if (allowed_.empty()) {
    return parsed->host == "localhost" || parsed->host == "127.0.0.1" || parsed->host == "[::1]";
  }
  for (const ParsedOrigin& a : allowed_) {
    if (a == *parsed) return true;
  }
  return false;
}

}  // namespace switchboard::edge
