#include "tools/sb-load/src/verify.h"

#include <boost/json.hpp>
#include <charconv>
#include <variant>

#include "switchboard/common/strings.h"
#include "switchboard/jsonrpc/message.h"

namespace switchboard::load {
namespace {

namespace json = boost::json;

constexpr size_t kExcerpt = 200;

std::string Excerpt(std::string_view text) {
  if (text.size() <= kExcerpt) return std::string(text);
  return StrCat(text.substr(0, kExcerpt), "...");
}

Failure Mismatch(std::string detail) { return {FailureKind::kMismatch, 0, std::move(detail)}; }

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
    char y = b[i] >= 'A' && b[i] <= 'Z' ? static_cast<char>(b[i] - 'A' + 'a') : b[i];
    if (x != y) return false;
  }
  return true;
}

std::string_view MediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  return type;
}

bool IsResponse(std::string_view data) {
  jsonrpc::Envelope env;
  jsonrpc::ScanError error;
  return jsonrpc::Scan(data, &env, &error) && env.kind == jsonrpc::Kind::kResponse;
}

std::optional<Failure> VerifyResult(const Request& request, const json::value& result) {
  const json::object* object = result.if_object();
  if (object == nullptr) return Mismatch("result is not an object");
  switch (request.kind) {
    case RequestKind::kPing:
      return std::nullopt;
    case RequestKind::kList: {
      const json::value* tools = object->if_contains("tools");
      if (tools == nullptr || !tools->is_array()) return Mismatch("tools/list: no tools array");
      if (tools->as_array().empty()) return Mismatch("tools/list: no tools");
      return std::nullopt;
    }
    case RequestKind::kCall: {
      if (const json::value* is_error = object->if_contains("isError");
          is_error != nullptr && is_error->is_bool() && is_error->as_bool()) {
        return Mismatch(StrCat("tools/call: isError: ", Excerpt(json::serialize(result))));
      }
      const json::value* content = object->if_contains("content");
      if (content == nullptr || !content->is_array() || content->as_array().empty()) {
        return Mismatch("tools/call: no content");
      }
      const json::object* first = content->as_array().front().if_object();
      const json::value* text = first == nullptr ? nullptr : first->if_contains("text");
      if (text == nullptr || !text->is_string()) return Mismatch("tools/call: no text content");
      std::string_view got = text->as_string();
      std::string want = StrCat("Echo: ", request.message);
      if (got != want) {
        return Mismatch(
            StrCat("tools/call: text is '", Excerpt(got), "', want '", Excerpt(want), "'"));
      }
      return std::nullopt;
    }
  }
  return std::nullopt;
}

Failure JsonRpcFailure(std::string_view message, jsonrpc::Span error) {
  Failure failure{FailureKind::kJsonRpc, 0, Excerpt(error.In(message))};
  if (auto code = jsonrpc::FindMember(message, error, "code")) {
    std::string_view digits = code->In(message);
    int value = 0;
    auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec == std::errc() && ptr == digits.data() + digits.size()) failure.code = value;
  }
  return failure;
}

}  // namespace

std::string FailureKey(const Failure& failure) {
  switch (failure.kind) {
    case FailureKind::kConnect:
      return "connect";
    case FailureKind::kHttpStatus:
      return StrCat("http status ", failure.code);
    case FailureKind::kJsonRpc:
      return StrCat("jsonrpc error ", failure.code);
    case FailureKind::kMismatch:
      return "mismatch";
    case FailureKind::kTimeout:
      return "timeout";
    case FailureKind::kIo:
      return "io";
  }
  return "mismatch";
}

std::optional<Failure> VerifyMessage(const Request& request, std::string_view message) {
  jsonrpc::Envelope env;
  jsonrpc::ScanError scan_error;
  if (!jsonrpc::Scan(message, &env, &scan_error)) {
    return Mismatch(StrCat("not JSON-RPC (", scan_error.message, "): ", Excerpt(message)));
  }
  if (env.kind != jsonrpc::Kind::kResponse) {
    return Mismatch(StrCat("not a response: ", Excerpt(message)));
  }
  std::optional<uint64_t> id = jsonrpc::ParseUintId(env.id.In(message));
  if (!id || *id != request.id) {
    return Mismatch(StrCat("id ", env.id.In(message), " answers request ", request.id));
  }
  if (!env.error.empty()) return JsonRpcFailure(message, env.error);
  boost::system::error_code ec;
  json::value result = json::parse(env.result.In(message), ec);
  if (ec) return Mismatch(StrCat("result does not parse: ", Excerpt(message)));
  return VerifyResult(request, result);
}

std::optional<std::string> FinalSseResponse(std::string_view body) {
  std::optional<std::string> found;
  std::string data;
  bool has_data = false;
  auto dispatch = [&] {
    if (has_data && IsResponse(data)) found = data;
    data.clear();
    has_data = false;
  };
  while (!body.empty()) {
    size_t eol = body.find_first_of("\r\n");
    std::string_view line = body.substr(0, eol);
    if (eol == std::string_view::npos) {
      body = {};
    } else {
      size_t skip = body.compare(eol, 2, "\r\n") == 0 ? 2 : 1;
      body.remove_prefix(eol + skip);
    }
    if (line.empty()) {
      dispatch();
      continue;
    }
    if (line.front() == ':') continue;  // a comment (keep-alive)
    size_t colon = line.find(':');
    std::string_view field = line.substr(0, colon);
    std::string_view value;
    if (colon != std::string_view::npos) {
      value = line.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    }
    if (field == "data") {
      if (has_data) data.push_back('\n');
      data.append(value);
      has_data = true;
    }
  }
  dispatch();  // a last event not followed by a blank line
  return found;
}

namespace {

// The JSON-RPC response an HTTP answer carries, or why there is none.
std::variant<std::string, Failure> HttpMessage(int status, std::string_view content_type,
                                               std::string_view body) {
  if (status != 200) return Failure{FailureKind::kHttpStatus, status, Excerpt(body)};
  std::string_view type = MediaType(content_type);
  if (EqualsIgnoreCase(type, "application/json")) return std::string(body);
  if (EqualsIgnoreCase(type, "text/event-stream")) {
    std::optional<std::string> response = FinalSseResponse(body);
    if (!response) return Mismatch(StrCat("no response event in the stream: ", Excerpt(body)));
    return std::move(*response);
  }
  return Mismatch(StrCat("unexpected Content-Type '", content_type, "'"));
}

}  // namespace

std::optional<Failure> VerifyHttp(const Request& request, int status, std::string_view content_type,
                                  std::string_view body) {
  if (status == 200 && EqualsIgnoreCase(MediaType(content_type), "application/json")) {
    return VerifyMessage(request, body);  // the common case, without a copy
  }
  std::variant<std::string, Failure> message = HttpMessage(status, content_type, body);
  if (auto* failure = std::get_if<Failure>(&message)) return std::move(*failure);
  return VerifyMessage(request, std::get<std::string>(message));
}

std::optional<Failure> VerifyInitializeMessage(uint64_t id, std::string_view message,
                                               std::string* protocol_version) {
  jsonrpc::Envelope env;
  jsonrpc::ScanError scan_error;
  if (!jsonrpc::Scan(message, &env, &scan_error) || env.kind != jsonrpc::Kind::kResponse) {
    return Mismatch(StrCat("initialize: not a JSON-RPC response: ", Excerpt(message)));
  }
  std::optional<uint64_t> got = jsonrpc::ParseUintId(env.id.In(message));
  if (!got || *got != id) {
    return Mismatch(StrCat("initialize: id ", env.id.In(message), " answers request ", id));
  }
  if (!env.error.empty()) return JsonRpcFailure(message, env.error);
  std::optional<jsonrpc::Span> version =
      jsonrpc::FindMember(message, env.result, "protocolVersion");
  std::optional<std::string> text =
      version ? jsonrpc::DecodeString(version->In(message)) : std::nullopt;
  if (!text || text->empty()) {
    return Mismatch(StrCat("initialize: no protocolVersion: ", Excerpt(message)));
  }
  *protocol_version = std::move(*text);
  return std::nullopt;
}

std::optional<Failure> VerifyHttpInitialize(uint64_t id, int status, std::string_view content_type,
                                            std::string_view body, std::string* protocol_version) {
  std::variant<std::string, Failure> message = HttpMessage(status, content_type, body);
  if (auto* failure = std::get_if<Failure>(&message)) return std::move(*failure);
  return VerifyInitializeMessage(id, std::get<std::string>(message), protocol_version);
}

}  // namespace switchboard::load
