#include "switchboard/telemetry/trace_context.h"

#include <random>

#include "switchboard/common/strings.h"

namespace switchboard::telemetry {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;  // uppercase is not allowed by W3C Trace Context
}

template <size_t N>
bool ParseHex(std::string_view text, std::array<uint8_t, N>* out) {
  if (text.size() != 2 * N) return false;
  for (size_t i = 0; i < N; ++i) {
    int hi = HexValue(text[2 * i]);
    int lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return true;
}

template <size_t N>
bool AllZero(const std::array<uint8_t, N>& id) {
  for (uint8_t b : id) {
    if (b != 0) return false;
  }
  return true;
}

template <size_t N>
std::string Hex(const std::array<uint8_t, N>& id) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * N, '0');
  for (size_t i = 0; i < N; ++i) {
    out[2 * i] = kDigits[id[i] >> 4];
    out[2 * i + 1] = kDigits[id[i] & 0x0f];
  }
  return out;
}

std::mt19937_64& Generator() {
  thread_local std::mt19937_64 generator([] {
    std::random_device device;
    std::seed_seq seed{device(), device(), device(), device()};
    return std::mt19937_64(seed);
  }());
  return generator;
}

template <size_t N>
std::array<uint8_t, N> RandomId() {
  std::array<uint8_t, N> id{};
  do {
    for (size_t i = 0; i < N; i += 8) {
      uint64_t r = Generator()();
      for (size_t j = 0; j < 8 && i + j < N; ++j) id[i + j] = static_cast<uint8_t>(r >> (8 * j));
    }
  } while (AllZero(id));
  return id;
}

bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '*' ||
         c == '/' || c == '@';
}

// key = simple-key / multi-tenant-key ("tenant@system"), lowercase, 1-256 characters.
bool IsValidKey(std::string_view key) {
  if (key.empty() || key.size() > 256) return false;
  if (!((key[0] >= 'a' && key[0] <= 'z') || (key[0] >= '0' && key[0] <= '9'))) return false;
  size_t at = key.find('@');
  if (at != std::string_view::npos && (at + 1 == key.size() || key.find('@', at + 1) != key.npos)) {
    return false;
  }
  for (char c : key) {
    if (!IsKeyChar(c)) return false;
  }
  return true;
}

// value: 1-256 printable ASCII characters except ',' and '=', not ending in a space.
bool IsValidValue(std::string_view value) {
  if (value.empty() || value.size() > 256 || value.back() == ' ') return false;
  for (char c : value) {
    if (c < 0x20 || c > 0x7e || c == ',' || c == '=') return false;
  }
  return true;
}

}  // namespace

bool SpanContext::valid() const { return !AllZero(trace_id) && !AllZero(span_id); }

std::optional<SpanContext> ParseTraceparent(std::string_view header) {
  // version "-" trace-id "-" parent-id "-" trace-flags
  if (header.size() < 55) return std::nullopt;
  std::array<uint8_t, 1> version{};
  if (!ParseHex(header.substr(0, 2), &version) || version[0] == 0xff) return std::nullopt;
  if (version[0] == 0 && header.size() != 55) return std::nullopt;
  // A later version may append fields, after a '-'.
  if (header.size() > 55 && header[55] != '-') return std::nullopt;
  if (header[2] != '-' || header[35] != '-' || header[52] != '-') return std::nullopt;
  SpanContext context;
  std::array<uint8_t, 1> flags{};
  if (!ParseHex(header.substr(3, 32), &context.trace_id) ||
      !ParseHex(header.substr(36, 16), &context.span_id) ||
      !ParseHex(header.substr(53, 2), &flags) || !context.valid()) {
    return std::nullopt;
  }
  context.flags = flags[0];
  context.remote = true;
  return context;
}

std::string FormatTraceparent(const SpanContext& context) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "00-";
  out.append(Hex(context.trace_id));
  out.push_back('-');
  out.append(Hex(context.span_id));
  out.push_back('-');
  out.push_back(kDigits[context.flags >> 4]);
  out.push_back(kDigits[context.flags & 0x0f]);
  return out;
}

bool IsValidTracestate(std::string_view header) {
  int members = 0;
  while (true) {
    size_t comma = header.find(',');
    std::string_view member = TrimBlanks(header.substr(0, comma));
    if (!member.empty()) {
      size_t eq = member.find('=');
      if (eq == std::string_view::npos || !IsValidKey(member.substr(0, eq)) ||
          !IsValidValue(member.substr(eq + 1))) {
        return false;
      }
      if (++members > 32) return false;
    }
    if (comma == std::string_view::npos) return true;
    header.remove_prefix(comma + 1);
  }
}

std::optional<SpanContext> Extract(const TraceHeaders& headers) {
  std::optional<SpanContext> context = ParseTraceparent(headers.traceparent);
  if (context && !headers.tracestate.empty() && headers.tracestate.size() <= 512 &&
      IsValidTracestate(headers.tracestate)) {
    context->trace_state = headers.tracestate;
  }
  return context;
}

std::string ToHex(const TraceId& id) { return Hex(id); }
std::string ToHex(const SpanId& id) { return Hex(id); }

TraceId NewTraceId() { return RandomId<16>(); }
SpanId NewSpanId() { return RandomId<8>(); }

}  // namespace switchboard::telemetry
