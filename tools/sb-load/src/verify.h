#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "tools/sb-load/src/mcp.h"

namespace switchboard::load {

// Why a request did not count as a success.
enum class FailureKind {
  kConnect,     // the TCP connection (or the STDIO process) could not be set up
  kHttpStatus,  // an HTTP status other than the expected one
  kJsonRpc,     // a JSON-RPC error response
  kMismatch,    // an answer that is malformed or does not match what was sent
  kTimeout,     // no answer within --timeout
  kIo,          // the connection failed or closed mid-request
};

// One failed request: its kind, the HTTP status or JSON-RPC code when there is one, and a short
// human-readable detail (never a credential).
struct Failure {
  FailureKind kind = FailureKind::kMismatch;
  int code = 0;
  std::string detail;
};

// The key failures are counted under: "connect", "http status 503", "jsonrpc error -32601",
// "mismatch", "timeout", "io".
std::string FailureKey(const Failure& failure);

// Checks one JSON-RPC message against the request it answers: a response (not an error) with
// the same id, and for tools/call a result whose first content item is a text equal to
// "Echo: " + the message sent (and not isError), for tools/list at least one tool, for ping an
// object. nullopt when it matches.
std::optional<Failure> VerifyMessage(const Request& request, std::string_view message);

// The JSON-RPC response carried by a text/event-stream body: the data of the last event whose
// data is a JSON-RPC response (earlier events may be notifications or server requests). Multi-
// line data fields are joined with "\n". nullopt when no event holds a response.
std::optional<std::string> FinalSseResponse(std::string_view body);

// Checks an HTTP answer to `request`: status 200, then the body as application/json (one
// message) or text/event-stream (the final response event), then VerifyMessage.
std::optional<Failure> VerifyHttp(const Request& request, int status, std::string_view content_type,
                                  std::string_view body);

// Checks an answer to initialize (id `id`): a result naming a protocolVersion, which is stored
// in `*protocol_version`. nullopt when it is one.
std::optional<Failure> VerifyInitializeMessage(uint64_t id, std::string_view message,
                                               std::string* protocol_version);

// VerifyInitializeMessage for an HTTP answer (status 200, JSON or SSE body).
std::optional<Failure> VerifyHttpInitialize(uint64_t id, int status, std::string_view content_type,
                                            std::string_view body, std::string* protocol_version);

}  // namespace switchboard::load
