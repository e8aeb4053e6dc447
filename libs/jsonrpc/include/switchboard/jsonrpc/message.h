#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::jsonrpc {

// JSON-RPC 2.0 error codes.
inline constexpr int kParseError = -32700;
inline constexpr int kInvalidRequest = -32600;
inline constexpr int kMethodNotFound = -32601;
inline constexpr int kInvalidParams = -32602;
inline constexpr int kInternalError = -32603;
// Switchboard's own server errors (-32000..-32099).
inline constexpr int kUpstreamUnavailable = -32001;  // an upstream server is down or crashed
inline constexpr int kUpstreamTimeout = -32002;      // an upstream did not answer in time

// A byte range of the message text.
struct Span {
  size_t pos = 0;
  size_t len = 0;

  bool empty() const { return len == 0; }
  std::string_view In(std::string_view text) const { return text.substr(pos, len); }
};

enum class Kind { kRequest, kNotification, kResponse };

// The top-level members of one JSON-RPC message, located without building a DOM: spans point
// into the scanned text, so a hop can rewrite the id in place and forward the rest untouched.
struct Envelope {
  Kind kind = Kind::kRequest;
  Span id;             // the raw id value (a number or string literal); empty for notifications
  std::string method;  // decoded; empty for responses
  Span params;         // raw params value, empty when absent
  Span result;         // raw result value of a success response
  Span error;          // raw error value of an error response
};

struct ScanError {
  int code = kParseError;  // kParseError or kInvalidRequest
  std::string message;
  std::string raw_id = "null";  // the message's id when one could be read, for the error reply
};

// Checks that `text` is exactly one well-formed JSON value and a JSON-RPC 2.0 message (request,
// notification or response) and fills `out`. On failure fills `err` and returns false.
// Batches (JSON arrays) are reported as kInvalidRequest.
bool Scan(std::string_view text, Envelope* out, ScanError* err);

// Checks that `text` is one well-formed JSON value (any type).
bool IsValidJson(std::string_view text);

// Finds member `key` of the JSON object at `object` (which must be valid JSON) and returns the
// span of its value.
std::optional<Span> FindMember(std::string_view text, Span object, std::string_view key);

// Finds params._meta.progressToken of a request whose params are at `params`.
std::optional<Span> FindProgressToken(std::string_view text, Span params);

// Decodes a JSON string literal (with quotes); nullopt when `literal` is not a string.
std::optional<std::string> DecodeString(std::string_view literal);

// Encodes `value` as a JSON string literal with quotes.
std::string EncodeString(std::string_view value);

// Returns `text` with the bytes of `span` replaced by `replacement`.
std::string Replace(std::string_view text, Span span, std::string_view replacement);

// One span of a message to overwrite.
struct Edit {
  Span span;
  std::string text;
};

// Returns `text` with every edit applied, in one pass. Spans must not overlap; order is free.
std::string Replace(std::string_view text, std::vector<Edit> edits);

// Reads a non-negative integer id such as `42`; nullopt for anything else.
std::optional<uint64_t> ParseUintId(std::string_view raw_id);

// Builds {"jsonrpc":"2.0","id":<raw_id>,"error":{"code":..,"message":..}}, with "data" when
// `data_json` (one JSON value) is not empty.
std::string MakeError(std::string_view raw_id, int code, std::string_view message,
                      std::string_view data_json = {});
// Builds {"jsonrpc":"2.0","id":<raw_id>,"result":<result_json>}.
std::string MakeResult(std::string_view raw_id, std::string_view result_json);
// Builds a request; `params_json` may be empty to omit params.
std::string MakeRequest(std::string_view raw_id, std::string_view method,
                        std::string_view params_json);
// Builds a notification; `params_json` may be empty to omit params.
std::string MakeNotification(std::string_view method, std::string_view params_json);

}  // namespace switchboard::jsonrpc
