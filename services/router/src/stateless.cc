#include "services/router/src/stateless.h"

#include <array>

#include "switchboard/common/strings.h"

namespace switchboard::router {
namespace {

constexpr std::array<std::string_view, 8> kLevels = {
    "debug", "info", "notice", "warning", "error", "critical", "alert", "emergency"};

}  // namespace

StatelessClient ReadStatelessClient(std::string_view message, jsonrpc::Span params) {
  StatelessClient out;
  if (params.empty() || message[params.pos] != '{') return out;
  auto meta = jsonrpc::FindMember(message, params, "_meta");
  if (!meta || message[meta->pos] != '{') return out;
  if (auto caps = jsonrpc::FindMember(message, *meta, "io.modelcontextprotocol/clientCapabilities");
      caps && message[caps->pos] == '{') {
    out.sampling = jsonrpc::FindMember(message, *caps, "sampling").has_value();
    out.elicitation = jsonrpc::FindMember(message, *caps, "elicitation").has_value();
    out.roots = jsonrpc::FindMember(message, *caps, "roots").has_value();
  }
  if (auto level = jsonrpc::FindMember(message, *meta, "io.modelcontextprotocol/logLevel")) {
    out.log_level = LogLevelRank(jsonrpc::DecodeString(level->In(message)).value_or(""));
  }
  return out;
}

bool IsRemovedInStateless(std::string_view method) {
  return method == "initialize" || method == "ping" || method == "logging/setLevel" ||
         method == "resources/subscribe" || method == "resources/unsubscribe";
}

std::string_view CapabilityFor(std::string_view method) {
  if (method == "sampling/createMessage") return "sampling";
  if (method == "elicitation/create") return "elicitation";
  if (method == "roots/list") return "roots";
  return {};
}

bool Declares(const StatelessClient& client, std::string_view method) {
  std::string_view cap = CapabilityFor(method);
  return (cap == "sampling" && client.sampling) || (cap == "elicitation" && client.elicitation) ||
         (cap == "roots" && client.roots);
}

int LogLevelRank(std::string_view level) {
  for (size_t i = 0; i < kLevels.size(); ++i) {
    if (kLevels[i] == level) return static_cast<int>(i);
  }
  return -1;
}

std::string_view LogLevelName(int rank) {
  return rank >= 0 && rank < static_cast<int>(kLevels.size()) ? kLevels[rank] : kLevels[0];
}

bool IsCacheable(std::string_view method) {
  return method == "server/discover" || method == "tools/list" || method == "prompts/list" ||
         method == "resources/list" || method == "resources/templates/list" ||
         method == "resources/read";
}

std::string MarkComplete(std::string response, std::string_view method) {
  jsonrpc::Envelope env;
  jsonrpc::ScanError error;
  if (!jsonrpc::Scan(response, &env, &error) || env.result.empty() ||
      response[env.result.pos] != '{') {
    return response;
  }
  std::string members;
  auto add = [&](std::string_view key, std::string_view value) {
    if (jsonrpc::FindMember(response, env.result, key)) return;
    members.append(StrCat(members.empty() ? "" : ",", "\"", key, "\":", value));
  };
  add("resultType", R"("complete")");
  if (IsCacheable(method)) {
    // Lists are per namespace and per caller's rights: private to the caller, and not to be
    // reused, since list_changed cannot reach a client without a stream.
    add("ttlMs", "0");
    add("cacheScope", R"("private")");
  }
  if (members.empty()) return response;
  bool empty_object =
      response.find_first_not_of(" \t\r\n", env.result.pos + 1) == env.result.pos + env.result.len - 1;
  if (!empty_object) members.push_back(',');
  return jsonrpc::Replace(response, jsonrpc::Span{env.result.pos + 1, 0}, members);
}

std::string InputRequired(std::string_view raw_id, std::string_view key, std::string_view method,
                          std::string_view params_json, std::string_view request_state) {
  std::string request = StrCat(R"({"method":)", jsonrpc::EncodeString(method));
  if (!params_json.empty()) request.append(StrCat(R"(,"params":)", params_json));
  request.push_back('}');
  return jsonrpc::MakeResult(
      raw_id, StrCat(R"({"resultType":"input_required","inputRequests":{)",
                     jsonrpc::EncodeString(key), ":", request, R"(},"requestState":)",
                     jsonrpc::EncodeString(request_state), "}"));
}

}  // namespace switchboard::router
