#include "switchboard/telemetry/mcp_meta.h"

#include <array>
#include <vector>

#include "switchboard/common/crypto.h"
#include "switchboard/common/strings.h"

namespace switchboard::telemetry {
namespace {

std::string StringMember(std::string_view text, jsonrpc::Span object, std::string_view key) {
  std::optional<jsonrpc::Span> span = jsonrpc::FindMember(text, object, key);
  if (!span) return {};
  return jsonrpc::DecodeString(span->In(text)).value_or("");
}

bool IsObjectAt(std::string_view text, jsonrpc::Span span) {
  return !span.empty() && text[span.pos] == '{';
}

// The non-empty fields of `headers`, by their `_meta` member names.
std::vector<std::pair<std::string_view, const std::string*>> Fields(const TraceHeaders& headers) {
  std::vector<std::pair<std::string_view, const std::string*>> fields;
  if (!headers.traceparent.empty()) fields.emplace_back("traceparent", &headers.traceparent);
  if (!headers.tracestate.empty()) fields.emplace_back("tracestate", &headers.tracestate);
  if (!headers.baggage.empty()) fields.emplace_back("baggage", &headers.baggage);
  return fields;
}

// `fields` as a JSON object: {"traceparent":"…",…}.
std::string MetaObject(const std::vector<std::pair<std::string_view, const std::string*>>& fields) {
  std::string out = "{";
  for (const auto& [key, value] : fields) {
    out.append(StrCat(out.size() == 1 ? "" : ",", "\"", key, "\":", jsonrpc::EncodeString(*value)));
  }
  out.push_back('}');
  return out;
}

// The offset just after the '{' that opens the object at `span` (skipping nothing: a scanned
// value starts at its first character).
size_t AfterBrace(jsonrpc::Span span) { return span.pos + 1; }

// True when the object at `span` has no members.
bool IsEmptyObject(std::string_view text, jsonrpc::Span span) {
  for (size_t i = span.pos + 1; i + 1 < span.pos + span.len; ++i) {
    char c = text[i];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return false;
  }
  return true;
}

}  // namespace

TraceHeaders ExtractMeta(std::string_view message, const jsonrpc::Envelope& env) {
  TraceHeaders headers;
  if (!IsObjectAt(message, env.params)) return headers;
  std::optional<jsonrpc::Span> meta = jsonrpc::FindMember(message, env.params, "_meta");
  if (!meta || !IsObjectAt(message, *meta)) return headers;
  headers.traceparent = StringMember(message, *meta, "traceparent");
  headers.tracestate = StringMember(message, *meta, "tracestate");
  headers.baggage = StringMember(message, *meta, "baggage");
  return headers;
}

std::string InjectMeta(std::string_view message, const jsonrpc::Envelope& env,
                       const TraceHeaders& headers) {
  auto fields = Fields(headers);
  if (fields.empty() || env.kind == jsonrpc::Kind::kResponse) return std::string(message);
  if (env.params.empty()) {
    // No params: add them before the message's closing brace.
    size_t close = message.rfind('}');
    if (close == std::string_view::npos) return std::string(message);
    return StrCat(message.substr(0, close), ",\"params\":{\"_meta\":", MetaObject(fields), "}",
                  message.substr(close));
  }
  if (!IsObjectAt(message, env.params)) return std::string(message);
  std::optional<jsonrpc::Span> meta = jsonrpc::FindMember(message, env.params, "_meta");
  if (!meta || !IsObjectAt(message, *meta)) {
    if (meta) {
      // `_meta` is there but not an object: replace its value.
      return jsonrpc::Replace(message, *meta, MetaObject(fields));
    }
    std::string inserted = StrCat("\"_meta\":", MetaObject(fields));
    if (!IsEmptyObject(message, env.params)) inserted.push_back(',');
    return jsonrpc::Replace(message, jsonrpc::Span{AfterBrace(env.params), 0}, inserted);
  }
  std::vector<jsonrpc::Edit> edits;
  std::string added;
  for (const auto& [key, value] : fields) {
    if (auto existing = jsonrpc::FindMember(message, *meta, key)) {
      edits.push_back({*existing, jsonrpc::EncodeString(*value)});
    } else {
      added.append(StrCat("\"", key, "\":", jsonrpc::EncodeString(*value), ","));
    }
  }
  if (!added.empty()) {
    if (IsEmptyObject(message, *meta)) added.pop_back();
    edits.push_back({jsonrpc::Span{AfterBrace(*meta), 0}, std::move(added)});
  }
  return jsonrpc::Replace(message, std::move(edits));
}

std::string_view McpMethodLabel(std::string_view method) {
  static constexpr std::array<std::string_view, 24> kKnown = {"initialize",
                                                              "ping",
                                                              "tools/list",
                                                              "tools/call",
                                                              "prompts/list",
                                                              "prompts/get",
                                                              "resources/list",
                                                              "resources/read",
                                                              "resources/templates/list",
                                                              "resources/subscribe",
                                                              "resources/unsubscribe",
                                                              "completion/complete",
                                                              "logging/setLevel",
                                                              "server/discover",
                                                              "subscriptions/listen",
                                                              "notifications/initialized",
                                                              "notifications/cancelled",
                                                              "notifications/progress",
                                                              "notifications/roots/list_changed",
                                                              "sampling/createMessage",
                                                              "elicitation/create",
                                                              "roots/list",
                                                              "tasks/get",
                                                              "tasks/result"};
  if (method.empty()) return "";
  for (std::string_view known : kKnown) {
    if (method == known) return known;
  }
  return "other";
}

std::string HashSessionId(std::string_view session_id) {
  return crypto::Sha256Hex(session_id).substr(0, 16);
}

int ErrorCodeOf(std::string_view message, const jsonrpc::Envelope& env) {
  if (env.kind != jsonrpc::Kind::kResponse || !IsObjectAt(message, env.error)) return 0;
  std::optional<jsonrpc::Span> code = jsonrpc::FindMember(message, env.error, "code");
  if (!code) return 0;
  std::string_view text = code->In(message);
  int value = 0;
  bool negative = !text.empty() && text[0] == '-';
  for (size_t i = negative ? 1 : 0; i < text.size() && i < 12; ++i) {
    if (text[i] < '0' || text[i] > '9') return 0;
    value = value * 10 + (text[i] - '0');
  }
  return negative ? -value : value;
}

}  // namespace switchboard::telemetry
