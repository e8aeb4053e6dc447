#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::edge {

// One Server-Sent Event: `event:` when `event` is not empty, `id:` when `id` is not empty, and
// `data` as one data: line per line of it (CR, LF and CRLF all break lines, as SSE requires).
std::string SseFrame(std::string_view event, std::string_view id, std::string_view data);

// The event a 2025-11-25 server sends first on a stream: an id the client may resume from, the
// reconnection delay, and empty data.
std::string SsePrimingEvent(std::string_view id, std::chrono::milliseconds retry);

// An SSE comment line that keeps an idle stream open through proxies.
std::string SseKeepAlive();

// The Redis stream entry id ("<milliseconds>-<sequence>", both decimal) in a Last-Event-ID
// header value, or nullopt when the value is not one (it may come from an older server, or from
// a POST stream whose events cannot be replayed).
std::optional<std::string> ParseLastEventId(std::string_view value);

// The event ids of a request's own SSE stream (a POST answered as a stream): "<token>/<entry>",
// where the token (16 lowercase hex digits) names the request's stream within its session and
// the entry is its Redis stream entry id.
struct RequestEventId {
  std::string token;
  std::string entry;
};
std::string FormatRequestEventId(std::string_view token, std::string_view entry);
// The request stream event id in a Last-Event-ID header value, or nullopt when it is not one.
std::optional<RequestEventId> ParseRequestEventId(std::string_view value);

}  // namespace switchboard::edge
