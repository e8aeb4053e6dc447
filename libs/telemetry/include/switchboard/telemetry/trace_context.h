#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::telemetry {

using TraceId = std::array<uint8_t, 16>;
using SpanId = std::array<uint8_t, 8>;

// The identity of a span as W3C Trace Context carries it between processes.
struct SpanContext {
  TraceId trace_id{};
  SpanId span_id{};
  uint8_t flags = 0;        // bit 0: sampled
  std::string trace_state;  // the tracestate header, already checked
  bool remote = false;      // came from another process

  // A context is valid when neither id is all zeros.
  bool valid() const;
  bool sampled() const { return (flags & 0x01) != 0; }
};

// The W3C and MCP `_meta` propagation fields, as strings ready for a header or a proto field.
struct TraceHeaders {
  std::string traceparent;
  std::string tracestate;
  std::string baggage;

  bool empty() const { return traceparent.empty(); }
};

// Parses a `traceparent` header ("00-<32 hex>-<16 hex>-<2 hex>", lowercase). Versions above 00
// are read by their first four fields, as the specification asks; nullopt for anything invalid
// (bad length or characters, version ff, all-zero ids).
std::optional<SpanContext> ParseTraceparent(std::string_view header);

// Formats the version-00 `traceparent` of `context`.
std::string FormatTraceparent(const SpanContext& context);

// True when `header` is a well-formed `tracestate` list (at most 32 members of key=value, keys
// and values as W3C defines them); empty is valid.
bool IsValidTracestate(std::string_view header);

// The context that `headers` carry, tracestate included when valid; nullopt without a valid
// traceparent. The context is marked remote.
std::optional<SpanContext> Extract(const TraceHeaders& headers);

// Lowercase hex of an id.
std::string ToHex(const TraceId& id);
std::string ToHex(const SpanId& id);

// Fresh random ids (never all zeros).
TraceId NewTraceId();
SpanId NewSpanId();

}  // namespace switchboard::telemetry
