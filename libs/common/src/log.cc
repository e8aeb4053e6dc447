#include "switchboard/common/log.h"

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace switchboard::log {
namespace {

std::atomic<int> g_min_level{static_cast<int>(Level::kInfo)};
std::string g_service = "switchboard";  // set once at start-up, before threads
std::mutex g_write_mu;
thread_local const std::string* g_trace_id = nullptr;
thread_local const std::string* g_span_id = nullptr;

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  auto secs = std::chrono::system_clock::to_time_t(now);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(ms.count()));
  return buf;
}

}  // namespace

void Init(std::string_view service, Level min_level) {
  g_service = std::string(service);
  g_min_level = static_cast<int>(min_level);
}

void Init(std::string_view service, std::string_view level_name) {
  Level level = Level::kInfo;
  ParseLevel(level_name, &level);
  Init(service, level);
}

bool ParseLevel(std::string_view name, Level* out) {
  if (name == "debug") {
    *out = Level::kDebug;
  } else if (name == "info") {
    *out = Level::kInfo;
  } else if (name == "warn") {
    *out = Level::kWarn;
  } else if (name == "error") {
    *out = Level::kError;
  } else {
    return false;
  }
  return true;
}

void SetCurrentTraceIds(const std::string* trace_id, const std::string* span_id) {
  g_trace_id = trace_id;
  g_span_id = span_id;
}

void CurrentTraceIds(const std::string** trace_id, const std::string** span_id) {
  *trace_id = g_trace_id;
  *span_id = g_span_id;
}

std::string Format(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  boost::json::object line;
  line["ts"] = Timestamp();
  line["level"] = LevelName(level);
  line["service"] = g_service;
  line["msg"] = msg;
  for (const Field& f : fields) {
    std::visit([&](const auto& v) { line[f.key] = v; }, f.value);
  }
  if (g_trace_id != nullptr && !line.contains("trace_id")) line["trace_id"] = *g_trace_id;
  if (g_span_id != nullptr && !line.contains("span_id")) line["span_id"] = *g_span_id;
  return boost::json::serialize(line);
}

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_min_level.load(std::memory_order_relaxed)) return;
  std::string text = Format(level, msg, fields);
  text.push_back('\n');
  std::lock_guard<std::mutex> lock(g_write_mu);
  std::fwrite(text.data(), 1, text.size(), stderr);
  std::fflush(stderr);
}

}  // namespace switchboard::log
