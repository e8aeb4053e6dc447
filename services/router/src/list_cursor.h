#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "switchboard/common/crypto.h"

namespace switchboard::router {

// Where the next page of a merged list starts: item `index` of server `server`'s own list.
struct ListPosition {
  std::string server;
  size_t index = 0;
};

// The router's opaque cursor for `method`'s merged list at `position`: base64url of a small JSON
// object with a check value, the same on every router replica.
std::string EncodeListCursor(std::string_view method, const ListPosition& position);

// The position a cursor from EncodeListCursor names; nullopt when it was not made for `method`
// or has been altered.
std::optional<ListPosition> DecodeListCursor(std::string_view method, std::string_view cursor);

// Base64url without padding (RFC 4648 §5), and its inverse: libs/common's.
using crypto::Base64UrlDecode;
using crypto::Base64UrlEncode;

}  // namespace switchboard::router
