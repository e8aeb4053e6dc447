#include "services/edge/src/request.h"

#include <array>
#include <charconv>

#include "services/edge/src/sse.h"
#include "switchboard/common/strings.h"

namespace switchboard::edge {
namespace {

bool IsEndpointChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '_' || c == '.' || c == '~';
}

// The media type of one Accept range and whether its q parameter is zero.
struct MediaRange {
  std::string type;
  bool refused = false;
};

MediaRange ParseRange(std::string_view range) {
  MediaRange out;
  size_t semi = range.find(';');
  out.type = AsciiLower(TrimBlanks(range.substr(0, semi)));
  while (semi != std::string_view::npos) {
    std::string_view rest = range.substr(semi + 1);
    size_t next = rest.find(';');
    std::string_view param = TrimBlanks(rest.substr(0, next));
    if (param.size() >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=') {
      std::string_view q = param.substr(2);
      bool zero = !q.empty() && q.find_first_not_of("0.") == std::string_view::npos;
      out.refused = zero;
    }
    semi = next == std::string_view::npos ? next : semi + 1 + next;
  }
  return out;
}

}  // namespace

std::optional<std::string> QueryParam(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    size_t amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    size_t eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      std::string_view raw =
          eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      std::string out;
      for (size_t i = 0; i < raw.size(); ++i) {
        if (raw[i] == '+') {
          out.push_back(' ');
        } else if (raw[i] == '%' && i + 2 < raw.size()) {
          unsigned value = 0;
          auto [ptr, ec] = std::from_chars(raw.data() + i + 1, raw.data() + i + 3, value, 16);
          if (ec == std::errc() && ptr == raw.data() + i + 3) {
            out.push_back(static_cast<char>(value));
            i += 2;
          } else {
            out.push_back('%');
          }
        } else {
          out.push_back(raw[i]);
        }
      }
      return out;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

std::string PercentEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '_' || c == '.' || c == '~') {
      out.push_back(c);
    } else {
      out.push_back('%');
      out.push_back(kHex[u >> 4]);
      out.push_back(kHex[u & 15]);
    }
  }
  return out;
}

Route ClassifyPath(std::string_view path) {
  if (path == "/healthz") return {RouteKind::kHealthz, {}};
  if (path == "/readyz") return {RouteKind::kReadyz, {}};
  constexpr std::string_view kWellKnown = "/.well-known/oauth-protected-resource/metamcp/";
  if (path.rfind(kWellKnown, 0) == 0) {
    Route mcp = ClassifyPath(path.substr(kWellKnown.size() - std::string_view("/metamcp/").size()));
    if (mcp.kind == RouteKind::kMcp) return {RouteKind::kResourceMetadata, std::move(mcp.endpoint)};
    return {RouteKind::kNotFound, {}};
  }
  constexpr std::string_view kPrefix = "/metamcp/";
  if (path.size() <= kPrefix.size() || path.substr(0, kPrefix.size()) != kPrefix) {
    return {RouteKind::kNotFound, {}};
  }
  std::string_view rest = path.substr(kPrefix.size());
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return {RouteKind::kNotFound, {}};
  std::string_view endpoint = rest.substr(0, slash);
  std::string_view suffix = rest.substr(slash);
  bool ok = !endpoint.empty() && endpoint != "." && endpoint != "..";
  for (char c : endpoint) ok = ok && IsEndpointChar(c);
  if (!ok) return {RouteKind::kNotFound, {}};
  if (suffix == "/mcp") return {RouteKind::kMcp, std::string(endpoint)};
  if (suffix == "/sse") return {RouteKind::kLegacySse, std::string(endpoint)};
  if (suffix == "/message") return {RouteKind::kLegacyMessage, std::string(endpoint)};
  return {RouteKind::kNotFound, {}};
}

Credential ExtractCredential(const HttpRequest& request) {
  if (auto auth = request.Header("authorization")) {
    std::string_view value = TrimBlanks(*auth);
    constexpr std::string_view kBearer = "bearer ";
    if (value.size() > kBearer.size() &&
        EqualsIgnoreCase(value.substr(0, kBearer.size()), kBearer)) {
      std::string_view token = TrimBlanks(value.substr(kBearer.size()));
      if (!token.empty()) return {std::string(token), "authorization"};
    }
  }
  if (auto key = request.Header("x-api-key")) {
    std::string_view value = TrimBlanks(*key);
    if (!value.empty()) return {std::string(value), "x-api-key"};
  }
  if (auto key = QueryParam(request.query, "api_key"); key && !key->empty()) {
    return {std::move(*key), "query"};
  }
  return {};
}

namespace {
constexpr std::array<std::string_view, 4> kSessionVersions = {"2024-11-05", "2025-03-26",
                                                              "2025-06-18", "2025-11-25"};
}  // namespace

bool IsSupportedProtocolVersion(std::string_view version) {
  for (std::string_view v : kSessionVersions) {
    if (v == version) return true;
  }
  return false;
}

std::string SupportedVersionsJson() {
  std::string out;
  for (std::string_view v : kSessionVersions) out.append(StrCat("\"", v, "\","));
  out.append("\"2026-07-28\"");
  return out;
}

bool AcceptsJsonAndEventStream(std::string_view accept) {
  bool json = false, sse = false;
  bool json_refused = false, sse_refused = false;
  while (true) {
    size_t comma = accept.find(',');
    MediaRange range = ParseRange(accept.substr(0, comma));
    bool any = range.type == "*/*";
    bool is_json = any || range.type == "application/*" || range.type == "application/json";
    bool is_sse = any || range.type == "text/*" || range.type == "text/event-stream";
    // An exact type outranks a wildcard: application/json;q=0 refuses even next to */*.
    if (range.type == "application/json" && range.refused) json_refused = true;
    if (range.type == "text/event-stream" && range.refused) sse_refused = true;
    if (!range.refused) {
      json = json || is_json;
      sse = sse || is_sse;
    }
    if (comma == std::string_view::npos) break;
    accept.remove_prefix(comma + 1);
  }
  return json && sse && !json_refused && !sse_refused;
}

bool AcceptsEventStream(std::string_view accept) {
  if (TrimBlanks(accept).empty()) return true;
  bool admitted = false;
  while (true) {
    size_t comma = accept.find(',');
    MediaRange range = ParseRange(accept.substr(0, comma));
    if (range.type == "text/event-stream" && range.refused) return false;
    if (!range.refused &&
        (range.type == "*/*" || range.type == "text/*" || range.type == "text/event-stream")) {
      admitted = true;
    }
    if (comma == std::string_view::npos) break;
    accept.remove_prefix(comma + 1);
  }
  return admitted;
}

bool IsJsonContentType(std::string_view content_type) {
  size_t semi = content_type.find(';');
  return EqualsIgnoreCase(TrimBlanks(content_type.substr(0, semi)), "application/json");
}

bool IsValidSessionId(std::string_view id) {
  if (id.empty() || id.size() > 256) return false;
  for (char c : id) {
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}

std::optional<HttpResponse> CheckOrigin(const HttpRequest& request, const OriginPolicy& origins) {
  std::optional<std::string_view> origin = request.Header("origin");
  if (origin && !origins.IsAllowed(*origin)) {
    return JsonRpcErrorResponse(403, "null", kHttpLayerError, "Forbidden: Origin not allowed");
  }
  return std::nullopt;
}

namespace {

std::variant<McpPost, HttpResponse> CheckPost(const HttpRequest& request,
                                              const OriginPolicy& origins, bool legacy) {
  if (auto refused = CheckOrigin(request, origins)) return std::move(*refused);
  if (!IsJsonContentType(request.Header("content-type").value_or(""))) {
    return JsonRpcErrorResponse(415, "null", kHttpLayerError,
                                "Unsupported Media Type: Content-Type must be application/json");
  }
  if (!legacy && !AcceptsJsonAndEventStream(request.HeaderList("accept"))) {
    return JsonRpcErrorResponse(
        406, "null", kHttpLayerError,
        "Not Acceptable: Accept must include application/json and text/event-stream");
  }
  McpPost post;
  jsonrpc::ScanError error;
  if (!jsonrpc::Scan(request.body, &post.envelope, &error)) {
    std::string id = error.code == jsonrpc::kParseError ? "null" : error.raw_id;
    return JsonRpcErrorResponse(400, id, error.code, error.message);
  }
  const jsonrpc::Envelope& env = post.envelope;
  if (env.kind != jsonrpc::Kind::kNotification) post.raw_id = std::string(env.id.In(request.body));
  std::string_view reply_id =
      env.kind == jsonrpc::Kind::kRequest ? std::string_view(post.raw_id) : "null";
  if (auto version = request.Header("mcp-protocol-version")) {
    // A request without a session may be a stateless (2026-07-28) one, checked by the caller.
    if (!IsSupportedProtocolVersion(*version) && (legacy || request.Header("mcp-session-id"))) {
      return JsonRpcErrorResponse(
          400, reply_id, kHttpLayerError,
          StrCat("Bad Request: unsupported MCP-Protocol-Version (supported: 2024-11-05, "
                 "2025-03-26, 2025-06-18, 2025-11-25)"));
    }
    post.protocol_version = std::string(*version);
  }
  if (auto session = request.Header("mcp-session-id")) {
    if (!IsValidSessionId(*session)) {
      return JsonRpcErrorResponse(400, reply_id, kHttpLayerError,
                                  "Bad Request: malformed Mcp-Session-Id");
    }
    post.session_id = std::string(*session);
  }
  if (env.kind == jsonrpc::Kind::kRequest && !env.params.empty() &&
      request.body[env.params.pos] == '{') {
    if (env.method == "tools/call") {
      if (auto name = jsonrpc::FindMember(request.body, env.params, "name")) {
        post.tool = jsonrpc::DecodeString(name->In(request.body)).value_or("");
      }
    } else if (env.method == "initialize") {
      if (auto version = jsonrpc::FindMember(request.body, env.params, "protocolVersion")) {
        post.requested_version = jsonrpc::DecodeString(version->In(request.body)).value_or("");
      }
    }
  }
  return post;
}

}  // namespace

std::variant<McpPost, HttpResponse> ValidatePost(const HttpRequest& request,
                                                 const OriginPolicy& origins) {
  return CheckPost(request, origins, false);
}

std::variant<McpPost, HttpResponse> ValidateLegacyPost(const HttpRequest& request,
                                                       const OriginPolicy& origins) {
  return CheckPost(request, origins, true);
}

HttpResponse JsonResponse(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.headers.emplace_back("Content-Type", "application/json");
  response.body = std::move(body);
  return response;
}

HttpResponse JsonRpcErrorResponse(int status, std::string_view raw_id, int code,
                                  std::string_view message) {
  return JsonResponse(status, jsonrpc::MakeError(raw_id, code, message));
}

HttpResponse MethodNotAllowed(std::string_view allow) {
  HttpResponse response = JsonRpcErrorResponse(405, "null", kHttpLayerError, "Method Not Allowed");
  response.headers.emplace_back("Allow", std::string(allow));
  return response;
}

HttpResponse Accepted() {
  HttpResponse response;
  response.status = 202;
  return response;
}

std::string SseEvent(std::string_view data) { return SseFrame("message", "", data); }

}  // namespace switchboard::edge
