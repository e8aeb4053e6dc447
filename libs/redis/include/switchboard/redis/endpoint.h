#pragma once

#include <absl/status/statusor.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::redis {

// Where a Redis server listens and how to log in to it.
struct RedisEndpoint {
  std::string host = "127.0.0.1";
  uint16_t port = 6379;
  int db = 0;
  std::string username;  // empty: AUTH with the password alone
  std::string password;  // secret: never logged, never part of Describe()

  // "host:port/db" without credentials, safe for logs and error messages.
  std::string Describe() const;
};

// The commands a new connection sends before any other (AUTH when there is a password, SELECT
// when the database is not 0), RESP-encoded, and how many replies they get.
std::string HandshakeCommands(const RedisEndpoint& endpoint, size_t* replies);

// Parses redis://[[username]:password@]host[:port][/db]. User and password may be
// percent-encoded; an IPv6 host goes in brackets. Errors never repeat the URL, which may hold a
// password.
absl::StatusOr<RedisEndpoint> ParseRedisUrl(std::string_view url);

}  // namespace switchboard::redis
