#pragma once

#include <absl/status/statusor.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::edge {

// A browser Origin split into its parts, normalised: lowercase scheme and host, the port
// always explicit (80 and 443 filled in for http and https).
struct ParsedOrigin {
  std::string scheme;
  std::string host;  // IPv6 hosts keep their brackets: "[::1]"
  int port = 0;

  std::string ToString() const;
  bool operator==(const ParsedOrigin&) const = default;
};

// Parses "scheme://host[:port]" (an optional trailing "/" is tolerated); nullopt for "null" and
// anything that is not an http(s) origin.
std::optional<ParsedOrigin> ParseOrigin(std::string_view origin);

// Decides which browser Origins may call the edge, as protection against DNS rebinding. A
// request without an Origin header is not a browser's cross-site request and is not judged here.
class OriginPolicy {
 public:
  // `allowed` lists exact origins ("https://app.example.com", "http://localhost:3000") or "*"
  // for any. An empty list allows loopback origins only: http(s)://localhost, 127.0.0.1 or
  // [::1], any port. Fails on an entry that is not an origin.
  static absl::StatusOr<OriginPolicy> Create(const std::vector<std::string>& allowed);

  // Loopback origins only.
  OriginPolicy() = default;

  // True when a request carrying `origin` in its Origin header may proceed.
  bool IsAllowed(std::string_view origin) const;

 private:
  bool any_ = false;
  std::vector<ParsedOrigin> allowed_;
};

}  // namespace switchboard::edge
