#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <variant>

namespace switchboard::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// One key/value pair of a structured log line. Values are strings, integers or booleans.
struct Field {
  std::string_view key;
  std::variant<std::string_view, int64_t, bool, double> value;

  Field(std::string_view k, std::string_view v) : key(k), value(v) {}
  Field(std::string_view k, const std::string& v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, const char* v) : key(k), value(std::string_view(v)) {}
  Field(std::string_view k, int64_t v) : key(k), value(v) {}
  Field(std::string_view k, int v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, uint64_t v) : key(k), value(static_cast<int64_t>(v)) {}
  Field(std::string_view k, bool v) : key(k), value(v) {}
  Field(std::string_view k, double v) : key(k), value(v) {}
};

// Names the service in every line and sets the lowest level written.
void Init(std::string_view service, Level min_level);

// Init with a level given by name (as read from config, already checked there); an unknown
// name means info.
void Init(std::string_view service, std::string_view level_name);

// Parses "debug" | "info" | "warn" | "error"; false when the name is unknown.
bool ParseLevel(std::string_view name, Level* out);

// The trace and span (lowercase hex) that lines written on this thread belong to, added to them
// as `trace_id` and `span_id` unless a line names its own. Set by telemetry::ScopedActive while a
// span is current; null pointers clear them. The strings must outlive their setting.
void SetCurrentTraceIds(const std::string* trace_id, const std::string* span_id);
void CurrentTraceIds(const std::string** trace_id, const std::string** span_id);

// The request that lines written on this thread belong to, added to them as `endpoint` (the
// MCP endpoint's name) and `user` (the principal's user id or email, never a credential) unless
// a line names its own. Null pointers or empty strings leave a field out. The strings must
// outlive their setting.
void SetCurrentRequest(const std::string* endpoint, const std::string* user);
void CurrentRequest(const std::string** endpoint, const std::string** user);

// Everything a request adds to its lines; empty fields are left out.
struct Context {
  std::string trace_id;
  std::string span_id;
  std::string endpoint;
  std::string user;
};

// Makes `context` (all four fields; null: none) current on this thread for the scope's
// lifetime and restores what was current before. Fields filled in meanwhile show up on the
// lines written after. `context` must outlive the scope.
class ScopedContext {
 public:
  explicit ScopedContext(const Context* context);
  ~ScopedContext();
  ScopedContext(const ScopedContext&) = delete;
  ScopedContext& operator=(const ScopedContext&) = delete;

 private:
  const std::string* previous_[4];
};

// Sets the current request's endpoint and user for the scope's lifetime (the trace ids are
// left as they are) and restores the previous ones after.
class ScopedRequest {
 public:
  ScopedRequest(std::string_view endpoint, std::string_view user);
  ~ScopedRequest();
  ScopedRequest(const ScopedRequest&) = delete;
  ScopedRequest& operator=(const ScopedRequest&) = delete;

 private:
  std::string endpoint_;
  std::string user_;
  const std::string* previous_endpoint_;
  const std::string* previous_user_;
};

// Formats one JSON log line (no trailing newline). Exposed for tests.
std::string Format(Level level, std::string_view msg, std::initializer_list<Field> fields);

// Writes one JSON line to stdout: {"time","level","service","message",...fields}, then the
// current trace_id, span_id, endpoint and user. Callers never pass secrets (keys, tokens,
// server env) as fields. (Fatal start-up errors are not log lines: see ExitWithError.)
void Write(Level level, std::string_view msg, std::initializer_list<Field> fields);

inline void Debug(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kDebug, msg, f);
}
inline void Info(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kInfo, msg, f);
}
inline void Warn(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kWarn, msg, f);
}
inline void Error(std::string_view msg, std::initializer_list<Field> f = {}) {
  Write(Level::kError, msg, f);
}

}  // namespace switchboard::log
