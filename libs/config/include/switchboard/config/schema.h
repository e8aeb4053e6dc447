#pragma once

#include <absl/status/status.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::config {

// Describes one service's configuration: named fields bound to variables, each with a type,
// bounds and an optional check. Loads a YAML mapping and then SWITCHBOARD_<SERVICE>_<FIELD>
// environment overrides; every error names the field and fits on one line.
class Schema {
 public:
  using Check = std::function<absl::Status(std::string_view value)>;

  explicit Schema(std::string service);

  Schema& String(std::string key, std::string* out, Check check = {});
  Schema& Int(std::string key, int64_t* out, int64_t min, int64_t max);
  Schema& Bool(std::string key, bool* out);
  Schema& StringList(std::string key, std::vector<std::string>* out);

  // Reads a YAML mapping: unknown keys and wrong types are errors.
  absl::Status LoadYaml(std::string_view text, std::string_view origin);
  absl::Status LoadFile(const std::string& path);
  // Applies SWITCHBOARD_<SERVICE>_<KEY> variables found through `getenv`.
  absl::Status LoadEnv(const std::function<const char*(const char*)>& getenv);
  // The environment variable that overrides `key`.
  std::string EnvName(std::string_view key) const;

 private:
  enum class Type { kString, kInt, kBool, kStringList };
  struct Field {
    std::string key;
    Type type;
    void* out;
    int64_t min = 0;
    int64_t max = 0;
    Check check;
  };
  absl::Status Set(const Field& f, std::string_view value, std::string_view origin);
  const Field* Find(std::string_view key) const;

  std::string service_;
  std::vector<Field> fields_;
};

// Checks "host:port" with a numeric port in 1..65535 (host may be empty, a name, an IPv4
// address or a bracketed IPv6 address).
absl::Status CheckHostPort(std::string_view value);

// CheckHostPort, or empty (the listener is off).
absl::Status CheckOptionalHostPort(std::string_view value);

// Checks that a value is not empty.
absl::Status CheckNotEmpty(std::string_view value);

// Checks a log level name: debug, info, warn or error.
absl::Status CheckLogLevel(std::string_view value);

// Checks the SHA-256 of an admin token: empty (none), or 64 lowercase hex digits
// (`printf %s "$token" | sha256sum`).
absl::Status CheckAdminTokenSha256(std::string_view value);

// Loads a service's configuration the way every binary does: `--config FILE` from argv (if
// given), then the environment. On any error prints "<service>: <error>" to stderr and exits 2.
void LoadOrExit(Schema& schema, std::string_view service, int argc, char** argv);

}  // namespace switchboard::config
