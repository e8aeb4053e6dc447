#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "services/edge/src/http_types.h"
#include "services/edge/src/request.h"

namespace switchboard::edge {

// MCP 2026-07-28 ("stateless") over Streamable HTTP: no initialize and no Mcp-Session-Id;
// every request names its protocol version and the client's capabilities in params._meta,
// repeats the version in MCP-Protocol-Version, and names its method (and tool, prompt or
// resource) in the Mcp-Method and Mcp-Name headers.
inline constexpr std::string_view kStatelessVersion = "2026-07-28";
inline constexpr std::string_view kMetaProtocolVersion = "io.modelcontextprotocol/protocolVersion";
inline constexpr std::string_view kMetaClientCapabilities =
    "io.modelcontextprotocol/clientCapabilities";

// JSON-RPC errors of the stateless protocol.
inline constexpr int kHeaderMismatch = -32020;
inline constexpr int kMissingClientCapability = -32021;
inline constexpr int kUnsupportedProtocolVersion = -32022;

// True when a POST without a session is a stateless request: its MCP-Protocol-Version is not a
// session-based version, or its params._meta names a protocol version.
bool IsStatelessPost(const HttpRequest& request, const McpPost& post);

// The stateless protocol's checks, in the order clients can rely on: MCP-Protocol-Version
// present (400, -32020), the required _meta keys present (400, -32602), the header equal to
// _meta's version (400, -32020), a version the edge speaks (400, -32022 with the supported
// versions), Mcp-Method equal to the body's method and Mcp-Name to its params.name or
// params.uri (400, -32020). Returns the refusal, or nullopt when the request may proceed.
std::optional<HttpResponse> CheckStatelessPost(const HttpRequest& request, const McpPost& post);

// The HTTP status for a stateless request's final JSON-RPC message: 404 for an unknown method,
// 400 for the protocol's own refusals, else 200.
int StatelessStatus(std::string_view final_message);

}  // namespace switchboard::edge
