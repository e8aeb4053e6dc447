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

// Formats one JSON log line (no trailing newline). Exposed for tests.
std::string Format(Level level, std::string_view msg, std::initializer_list<Field> fields);

// Writes one JSON line to stderr: {"ts","level","service","msg",...fields}. Callers never
// pass secrets (keys, tokens, server env) as fields.
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
