#pragma once

#include <string>
#include <string_view>

#include "switchboard/jsonrpc/message.h"
#include "switchboard/telemetry/trace_context.h"

namespace switchboard::telemetry {

// The trace fields (`traceparent`, `tracestate`, `baggage`) of a JSON-RPC request's
// params._meta, as the MCP trace-context convention places them; empty strings for absent or
// non-string members. `env` is the scan of `message`.
TraceHeaders ExtractMeta(std::string_view message, const jsonrpc::Envelope& env);

// `message` (a request or notification scanned into `env`) with params._meta carrying
// `headers` (the members present are replaced, the others added; empty fields are left out).
// Creates params or _meta when missing. Returns the message unchanged when params is not an
// object or `headers` is empty.
std::string InjectMeta(std::string_view message, const jsonrpc::Envelope& env,
                       const TraceHeaders& headers);

// An MCP method name as a metric label: the methods of the specification by name, anything
// else (clients choose method names) "other", and "" for none.
std::string_view McpMethodLabel(std::string_view method);

// The hex SHA-256 of a session id, first 16 characters: enough to correlate, useless to replay.
std::string HashSessionId(std::string_view session_id);

// The JSON-RPC error code of a response (scanned into `env`); 0 when it is not an error.
int ErrorCodeOf(std::string_view message, const jsonrpc::Envelope& env);

}  // namespace switchboard::telemetry
