#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace switchboard::load {

// The requests a workload is made of.
enum class RequestKind { kCall, kList, kPing };

// "call", "list" or "ping".
std::string_view KindName(RequestKind kind);

// One JSON-RPC request as sent, with what its answer must contain.
struct Request {
  RequestKind kind = RequestKind::kCall;
  uint64_t id = 0;
  std::string message;  // tools/call: the echo argument; the answer's text must be "Echo: " + it
  std::string body;     // the JSON-RPC text, one line
};

// Builds a request of `kind` with numeric id `id`: tools/call of `tool` with arguments
// {"message": message} (any text; it is JSON-escaped), tools/list, or ping.
Request MakeRequest(RequestKind kind, uint64_t id, std::string_view tool, std::string message);

// An initialize request asking for `protocol_version`, naming sb-load as the client.
std::string InitializeBody(uint64_t id, std::string_view protocol_version);

// The notifications/initialized message.
std::string InitializedBody();

}  // namespace switchboard::load
