#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <string_view>

namespace switchboard::registry {

// The connection string with its password (URL userinfo, `?password=` or `password=` keyword)
// replaced by "***": the only form of a Postgres URL that may reach a log or a terminal.
std::string RedactPostgresUrl(std::string_view url);

// A libpq or server error message made safe to show: on one line, and with the password of
// `url` (raw or percent-decoded) replaced by "***" wherever it appears.
std::string SanitizeDbError(std::string_view message, std::string_view url);

// The same postgresql:// URL naming another database on the same server (tests create and
// drop throwaway databases). InvalidArgument for keyword/value connection strings.
absl::StatusOr<std::string> WithDatabase(std::string_view url, std::string_view database);

}  // namespace switchboard::registry
