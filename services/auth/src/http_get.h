#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <cstddef>
#include <string>

namespace switchboard::auth {

// Limits of one HTTP GET.
struct HttpGetOptions {
  std::chrono::milliseconds timeout{3000};  // the whole exchange: resolve, connect, TLS, read
  size_t max_body_bytes = 1 << 20;
  // https: a PEM file of the CAs to trust instead of the system's; empty = the system's.
  std::string ca_file;
};

// GETs an http:// or https:// URL (TLS 1.2+, the certificate checked against the host name) and
// returns the body of a 200 answer. Any other status, a redirect, a body over the limit or the
// deadline passing is an error naming the URL; bodies of failed answers are never returned.
absl::StatusOr<std::string> HttpGet(const std::string& url, const HttpGetOptions& options);

}  // namespace switchboard::auth
