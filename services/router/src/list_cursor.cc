#include "services/router/src/list_cursor.h"

#include <boost/json.hpp>

#include "switchboard/common/crypto.h"
#include "switchboard/common/strings.h"

namespace switchboard::router {

namespace json = boost::json;

namespace {

// Detects accidental or casual edits; a cursor grants nothing a client could not ask for anyway.
std::string Check(std::string_view method, std::string_view server, size_t index) {
  return crypto::Sha256Hex(StrCat("sb-list-cursor\n", method, "\n", server, "\n", index))
      .substr(0, 16);
}

}  // namespace

std::string EncodeListCursor(std::string_view method, const ListPosition& position) {
  json::object o;
  o["s"] = position.server;
  o["i"] = position.index;
  o["c"] = Check(method, position.server, position.index);
  return Base64UrlEncode(json::serialize(o));
}

std::optional<ListPosition> DecodeListCursor(std::string_view method, std::string_view cursor) {
  constexpr size_t kMaxCursor = 1024;
  if (cursor.size() > kMaxCursor) return std::nullopt;
  std::optional<std::string> text = Base64UrlDecode(cursor);
  if (!text) return std::nullopt;
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::object& o = v.get_object();
  const json::value* server = o.if_contains("s");
  const json::value* index = o.if_contains("i");
  const json::value* check = o.if_contains("c");
  if (o.size() != 3 || server == nullptr || !server->is_string() || index == nullptr ||
      check == nullptr || !check->is_string()) {
    return std::nullopt;
  }
  ListPosition position;
  position.server = std::string(server->get_string());
  if (index->is_uint64()) {
    position.index = index->get_uint64();
  } else if (index->is_int64() && index->get_int64() >= 0) {
    position.index = static_cast<size_t>(index->get_int64());
  } else {
    return std::nullopt;
  }
  if (check->get_string() != Check(method, position.server, position.index)) return std::nullopt;
  return position;
}

}  // namespace switchboard::router
