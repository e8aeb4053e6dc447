#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "services/edge/src/http_types.h"
#include "services/edge/src/origin.h"
#include "switchboard/jsonrpc/message.h"

namespace switchboard::edge {

// JSON-RPC error code for refusals that happen at the HTTP layer (auth, sessions, limits).
inline constexpr int kHttpLayerError = -32000;
// JSON-RPC error code of a request refused by a rate limit where the answer travels on an event
// stream (the 2024-11-05 transport); its data carries {"retryAfterSeconds": n}.
inline constexpr int kRateLimitedError = -32029;

// What a request path names.
enum class RouteKind {
  kMcp,            // /metamcp/{endpoint}/mcp: Streamable HTTP
  kLegacySse,      // /metamcp/{endpoint}/sse: the 2024-11-05 HTTP+SSE stream
  kLegacyMessage,  // /metamcp/{endpoint}/message: the 2024-11-05 HTTP+SSE POSTs
  kResourceMetadata,  // /.well-known/oauth-protected-resource/metamcp/{endpoint}/mcp (RFC 9728)
  kHealthz,
  kReadyz,
  kNotFound
};

struct Route {
  RouteKind kind = RouteKind::kNotFound;
  std::string endpoint;  // the {endpoint} of /metamcp/{endpoint}/...
};

// Maps a request path (without query) to a route. Endpoint names are one path segment of
// letters, digits, '-', '_', '.' and '~'.
Route ClassifyPath(std::string_view path);

// The percent-decoded value of query parameter `name` ('+' is a space), or nullopt when absent.
std::optional<std::string> QueryParam(std::string_view query, std::string_view name);

// Percent-encodes everything but RFC 3986 unreserved characters, for a query parameter value.
std::string PercentEncode(std::string_view value);

// The caller's credential as presented, and where it came from ("authorization", "x-api-key"
// or "query"); both empty when there is none. The value is a secret: never log it.
struct Credential {
  std::string value;
  std::string source;
};

// Reads `Authorization: Bearer <key>`, else `X-API-Key`, else the `api_key` query parameter
// (auth decides whether an endpoint accepts that one).
Credential ExtractCredential(const HttpRequest& request);

// True for the session-based MCP-Protocol-Version values the edge speaks over Streamable HTTP.
bool IsSupportedProtocolVersion(std::string_view version);

// Every protocol version the edge speaks, session-based and stateless, as the members of a JSON
// array ("2024-11-05",...).
std::string SupportedVersionsJson();

// True when an Accept header value admits both application/json and text/event-stream
// (wildcards count; a range with q=0 refuses).
bool AcceptsJsonAndEventStream(std::string_view accept);

// True when an Accept header value admits text/event-stream (wildcards count, q=0 refuses); an
// absent or empty header admits everything.
bool AcceptsEventStream(std::string_view accept);

// True when a Content-Type value is application/json (parameters such as charset allowed).
bool IsJsonContentType(std::string_view content_type);

// True for a session id a client may present: 1 to 256 visible ASCII characters.
bool IsValidSessionId(std::string_view id);

// A POST body that passed every check of ValidatePost.
struct McpPost {
  jsonrpc::Envelope envelope;
  std::string raw_id = "null";    // the request id as JSON text ("null" for notifications)
  std::string protocol_version;   // MCP-Protocol-Version header; empty when absent
  std::string session_id;         // Mcp-Session-Id header; empty when absent
  std::string tool;               // params.name of a tools/call request
  std::string requested_version;  // params.protocolVersion of an initialize request
};

// Runs the checks every MCP POST must pass, in order: Origin (403), Content-Type (415), Accept
// (406), a single JSON-RPC message in the body (400 with -32700 or -32600),
// MCP-Protocol-Version with a session (400; without one the request may be stateless, which the
// caller checks) and the form of Mcp-Session-Id (400). Returns the parsed message or
// the response to send.
std::variant<McpPost, HttpResponse> ValidatePost(const HttpRequest& request,
                                                 const OriginPolicy& origins);

// ValidatePost for a 2024-11-05 HTTP+SSE POST (/message), whose clients need not send Accept.
std::variant<McpPost, HttpResponse> ValidateLegacyPost(const HttpRequest& request,
                                                       const OriginPolicy& origins);

// The 403 response when the request carries an Origin the policy refuses.
std::optional<HttpResponse> CheckOrigin(const HttpRequest& request, const OriginPolicy& origins);

// A response with a JSON body.
HttpResponse JsonResponse(int status, std::string body);
// A response whose body is a JSON-RPC error for request `raw_id` ("null" when unknown).
HttpResponse JsonRpcErrorResponse(int status, std::string_view raw_id, int code,
                                  std::string_view message);
// 405 with `Allow: <allow>` and a JSON-RPC error body.
HttpResponse MethodNotAllowed(std::string_view allow);
// 202 Accepted with no body.
HttpResponse Accepted();

// One Server-Sent Event `event: message` carrying `data` (a line break in the data becomes a
// further data: line, as SSE requires).
std::string SseEvent(std::string_view data);

}  // namespace switchboard::edge
