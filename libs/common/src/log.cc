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
thread_local const std::string* g_endpoint = nullptr;
thread_local const std::string* g_user = nullptr;

void AddCurrent(boost::json::object& line, std::string_view key, const std::string* value) {
  if (value != nullptr && !value->empty() && !line.contains(key)) line[key] = *value;
}

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

void SetCurrentRequest(const std::string* endpoint, const std::string* user) {
  g_endpoint = endpoint;
  g_user = user;
}

void CurrentRequest(const std::string** endpoint, const std::string** user) {
  *endpoint = g_endpoint;
  *user = g_user;
}

ScopedContext::ScopedContext(const Context* context)
    : previous_{g_trace_id, g_span_id, g_endpoint, g_user} {
  if (context == nullptr) {
    SetCurrentTraceIds(nullptr, nullptr);
    SetCurrentRequest(nullptr, nullptr);
    return;
  }
  // Pointers even to empty fields: what the request fills in later shows up on later lines.
  SetCurrentTraceIds(&context->trace_id, &context->span_id);
  SetCurrentRequest(&context->endpoint, &context->user);
}

ScopedContext::~ScopedContext() {
  SetCurrentTraceIds(previous_[0], previous_[1]);
  SetCurrentRequest(previous_[2], previous_[3]);
}

ScopedRequest::ScopedRequest(std::string_view endpoint, std::string_view user)
    : endpoint_(endpoint), user_(user), previous_endpoint_(g_endpoint), previous_user_(g_user) {
  SetCurrentRequest(&endpoint_, &user_);
}

ScopedRequest::~ScopedRequest() { SetCurrentRequest(previous_endpoint_, previous_user_); }

std::string Format(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  boost::json::object line;
  line["time"] = Timestamp();
  line["level"] = LevelName(level);
  line["service"] = g_service;
  line["message"] = msg;
  for (const Field& f : fields) {
    std::visit([&](const auto& v) { line[f.key] = v; }, f.value);
  }
  AddCurrent(line, "trace_id", g_trace_id);
  AddCurrent(line, "span_id", g_span_id);
  AddCurrent(line, "endpoint", g_endpoint);
  AddCurrent(line, "user", g_user);
  return boost::json::serialize(line);
}

void Write(Level level, std::string_view msg, std::initializer_list<Field> fields) {
  if (static_cast<int>(level) < g_min_level.load(std::memory_order_relaxed)) return;
  std::string text = Format(level, msg, fields);
  text.push_back('\n');
  std::lock_guard<std::mutex> lock(g_write_mu);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fflush(stdout);
}

}  // namespace switchboard::log
