#include "services/edge/src/stateless.h"

#include "switchboard/common/strings.h"
#include "switchboard/jsonrpc/message.h"

namespace switchboard::edge {
namespace {

// The span of params._meta when it is an object.
std::optional<jsonrpc::Span> MetaOf(std::string_view body, const jsonrpc::Envelope& env) {
  if (env.params.empty() || body[env.params.pos] != '{') return std::nullopt;
  auto meta = jsonrpc::FindMember(body, env.params, "_meta");
  if (!meta || body[meta->pos] != '{') return std::nullopt;
  return meta;
}

HttpResponse Refuse(std::string_view raw_id, int code, std::string_view message) {
  return JsonRpcErrorResponse(400, raw_id, code, message);
}

// The member of params that Mcp-Name mirrors for `method`, if any.
std::string_view NamedMember(std::string_view method) {
  if (method == "tools/call" || method == "prompts/get") return "name";
  if (method == "resources/read") return "uri";
  return {};
}

}  // namespace

bool IsStatelessPost(const HttpRequest& request, const McpPost& post) {
  if (!post.session_id.empty()) return false;
  if (auto version = request.Header("mcp-protocol-version");
      version && !IsSupportedProtocolVersion(*version)) {
    return true;
  }
  auto meta = MetaOf(request.body, post.envelope);
  return meta && jsonrpc::FindMember(request.body, *meta, kMetaProtocolVersion).has_value();
}

std::optional<HttpResponse> CheckStatelessPost(const HttpRequest& request, const McpPost& post) {
  const std::string& body = request.body;
  const jsonrpc::Envelope& env = post.envelope;
  std::string_view id = post.raw_id;
  std::optional<std::string_view> header = request.Header("mcp-protocol-version");
  if (!header) return Refuse(id, kHeaderMismatch, "Missing MCP-Protocol-Version header");

  auto meta = MetaOf(body, env);
  std::optional<jsonrpc::Span> version_span, caps_span;
  if (meta) {
    version_span = jsonrpc::FindMember(body, *meta, kMetaProtocolVersion);
    caps_span = jsonrpc::FindMember(body, *meta, kMetaClientCapabilities);
  }
  if (!version_span || !caps_span) {
    std::string missing;
    if (!version_span) missing = std::string(kMetaProtocolVersion);
    if (!caps_span) {
      missing = missing.empty() ? std::string(kMetaClientCapabilities)
                                : StrCat(missing, ", ", kMetaClientCapabilities);
    }
    return Refuse(id, jsonrpc::kInvalidParams,
                  StrCat("Invalid params: missing _meta keys: ", missing));
  }
  std::optional<std::string> version = jsonrpc::DecodeString(version_span->In(body));
  if (!version || *version != TrimBlanks(*header)) {
    return Refuse(id, kHeaderMismatch,
                  "Header mismatch: MCP-Protocol-Version does not match "
                  "_meta.io.modelcontextprotocol/protocolVersion");
  }
  if (*version != kStatelessVersion) {
    std::string data = StrCat(R"({"supported":[)", SupportedVersionsJson(), R"(],"requested":)",
                              jsonrpc::EncodeString(*version), "}");
    std::string_view why = IsSupportedProtocolVersion(*version)
                               ? "Unsupported protocol version: this version needs a session "
                                 "(initialize first)"
                               : "Unsupported protocol version";
    return JsonResponse(400, jsonrpc::MakeError(id, kUnsupportedProtocolVersion, why, data));
  }

  std::optional<std::string_view> method_header = request.Header("mcp-method");
  if (!method_header || TrimBlanks(*method_header) != env.method) {
    return Refuse(id, kHeaderMismatch,
                  method_header ? "Header mismatch: Mcp-Method does not match the request's method"
                                : "Header mismatch: Mcp-Method header is required");
  }
  if (std::string_view member = NamedMember(env.method); !member.empty() && !env.params.empty() &&
                                                         body[env.params.pos] == '{') {
    if (auto named = jsonrpc::FindMember(body, env.params, member)) {
      std::optional<std::string> value = jsonrpc::DecodeString(named->In(body));
      std::optional<std::string_view> name_header = request.Header("mcp-name");
      if (value && (!name_header || TrimBlanks(*name_header) != *value)) {
        return Refuse(id, kHeaderMismatch,
                      name_header
                          ? StrCat("Header mismatch: Mcp-Name does not match params.", member)
                          : StrCat("Header mismatch: Mcp-Name header is required with params.",
                                   member));
      }
    }
  }
  return std::nullopt;
}

int StatelessStatus(std::string_view final_message) {
  jsonrpc::Envelope env;
  jsonrpc::ScanError error;
  if (!jsonrpc::Scan(final_message, &env, &error) || env.error.empty()) return 200;
  auto code = jsonrpc::FindMember(final_message, env.error, "code");
  if (!code) return 200;
  std::string_view text = code->In(final_message);
  if (text == "-32601") return 404;
  if (text == "-32020" || text == "-32021" || text == "-32022") return 400;
  return 200;
}

}  // namespace switchboard::edge
