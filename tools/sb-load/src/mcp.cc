#include "tools/sb-load/src/mcp.h"

#include "switchboard/common/strings.h"
#include "switchboard/jsonrpc/message.h"

namespace switchboard::load {

std::string_view KindName(RequestKind kind) {
  switch (kind) {
    case RequestKind::kCall:
      return "call";
    case RequestKind::kList:
      return "list";
    case RequestKind::kPing:
      return "ping";
  }
  return "call";
}

Request MakeRequest(RequestKind kind, uint64_t id, std::string_view tool, std::string message) {
  Request r;
  r.kind = kind;
  r.id = id;
  std::string raw_id = std::to_string(id);
  switch (kind) {
    case RequestKind::kCall:
      r.body = jsonrpc::MakeRequest(
          raw_id, "tools/call",
          StrCat(R"({"name":)", jsonrpc::EncodeString(tool), R"(,"arguments":{"message":)",
                 jsonrpc::EncodeString(message), "}}"));
      r.message = std::move(message);
      break;
    case RequestKind::kList:
      r.body = jsonrpc::MakeRequest(raw_id, "tools/list", "{}");
      break;
    case RequestKind::kPing:
      r.body = jsonrpc::MakeRequest(raw_id, "ping", "");
      break;
  }
  return r;
}

std::string InitializeBody(uint64_t id, std::string_view protocol_version) {
  return jsonrpc::MakeRequest(
      std::to_string(id), "initialize",
      StrCat(R"({"protocolVersion":)", jsonrpc::EncodeString(protocol_version),
             R"(,"capabilities":{},"clientInfo":{"name":"sb-load","version":"0.1.0"}})"));
}

std::string InitializedBody() { return jsonrpc::MakeNotification("notifications/initialized", ""); }

}  // namespace switchboard::load
