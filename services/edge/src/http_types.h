#pragma once

#include <boost/asio/awaitable.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "switchboard/common/log.h"
#include "switchboard/telemetry/trace_context.h"
#include "switchboard/telemetry/tracer.h"

namespace switchboard::edge {

using Headers = std::vector<std::pair<std::string, std::string>>;

// One HTTP request as the edge logic sees it, free of Beast types. Header names are lowercase;
// `path` is the target without its query.
struct HttpRequest {
  std::string method;
  std::string target;
  std::string path;
  std::string query;
  Headers headers;
  std::string body;
  std::string remote_address;
  // The context of the edge's span for this request, passed on to auth and the router; empty
  // when it is not traced.
  telemetry::TraceHeaders trace;
  // What the request's log lines carry (its span, endpoint and user), filled in as the
  // handler learns them; null when the request is not served by HttpServer (tests).
  std::shared_ptr<log::Context> log_context;
  // The edge's span of this request while its handler runs, for what the handler learns (null
  // when the request is not served through RequestTelemetry).
  telemetry::Span* span = nullptr;

  // The first value of header `name` (lowercase), or nullopt when absent.
  std::optional<std::string_view> Header(std::string_view name) const;
  // Every value of header `name` joined with ", " (list headers such as Accept may repeat).
  std::string HeaderList(std::string_view name) const;
};

// A response body produced over time (a text/event-stream).
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  // The next piece of the body, or nullopt once it has ended. The awaiting coroutine may be
  // cancelled (the client went away); destroying the stream before its end abandons it.
  virtual boost::asio::awaitable<std::optional<std::string>> Next() = 0;
};

// One HTTP response. With `stream` set the headers go out first and the body follows piece by
// piece; otherwise `body` is the whole body.
struct HttpResponse {
  int status = 200;
  Headers headers;
  std::string body;
  std::unique_ptr<BodyStream> stream;

  // Replaces any header `name` (case-insensitive) with one value.
  void SetHeader(std::string_view name, std::string value);
  // The first value of header `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> Header(std::string_view name) const;
};

// Answers HTTP requests; implemented by the edge logic, driven by the HTTP server.
class HttpHandler {
 public:
  virtual ~HttpHandler() = default;
  // Produces the response to one request. Throws only when its coroutine is cancelled because
  // the client disconnected.
  virtual boost::asio::awaitable<HttpResponse> Handle(HttpRequest request) = 0;
};

// True when the ASCII strings are equal ignoring case.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Lowercases ASCII letters.
std::string AsciiLower(std::string_view s);

}  // namespace switchboard::edge
