#include "services/edge/src/sse.h"

#include <charconv>
#include <cstdint>

namespace switchboard::edge {
namespace {

// A decimal that fits 64 bits, as each half of a stream entry id must.
bool IsUint64(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size();
}

// A single line of an `event:` or `id:` field: line breaks (never valid there) are dropped.
void AppendField(std::string* out, std::string_view name, std::string_view value) {
  out->append(name);
  out->append(": ");
  for (char c : value) {
    if (c != '\r' && c != '\n' && c != '\0') out->push_back(c);
  }
  out->push_back('\n');
}

}  // namespace

std::string SseFrame(std::string_view event, std::string_view id, std::string_view data) {
  std::string out;
  out.reserve(data.size() + event.size() + id.size() + 32);
  if (!event.empty()) AppendField(&out, "event", event);
  if (!id.empty()) AppendField(&out, "id", id);
  while (true) {
    size_t nl = data.find_first_of("\r\n");
    out.append("data: ");
    out.append(data.substr(0, nl));
    out.push_back('\n');
    if (nl == std::string_view::npos) break;
    if (data[nl] == '\r' && nl + 1 < data.size() && data[nl + 1] == '\n') ++nl;
    data.remove_prefix(nl + 1);
  }
  out.push_back('\n');
  return out;
}

std::string SsePrimingEvent(std::string_view id, std::chrono::milliseconds retry) {
  std::string out;
  AppendField(&out, "id", id);
  out.append("retry: ");
  out.append(std::to_string(retry.count()));
  out.append("\ndata: \n\n");
  return out;
}

std::string SseKeepAlive() { return ":\n\n"; }

std::optional<std::string> ParseLastEventId(std::string_view value) {
  size_t dash = value.find('-');
  if (dash == std::string_view::npos) return std::nullopt;
  if (!IsUint64(value.substr(0, dash)) || !IsUint64(value.substr(dash + 1))) {
    return std::nullopt;
  }
  return std::string(value);
}

std::string FormatRequestEventId(std::string_view token, std::string_view entry) {
  std::string out(token);
  out.push_back('/');
  out.append(entry);
  return out;
}

std::optional<RequestEventId> ParseRequestEventId(std::string_view value) {
  size_t slash = value.find('/');
  if (slash != 16) return std::nullopt;
  std::string_view token = value.substr(0, slash);
  for (char c : token) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return std::nullopt;
  }
  std::optional<std::string> entry = ParseLastEventId(value.substr(slash + 1));
  if (!entry) return std::nullopt;
  return RequestEventId{std::string(token), std::move(*entry)};
}

}  // namespace switchboard::edge
