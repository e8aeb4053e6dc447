#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace switchboard::crypto {

// Lowercase hex SHA-256 of the input.
std::string Sha256Hex(std::string_view data);

// Lowercase hex SHA-1 of the input: only for names that others define by it (a Redis script's
// EVALSHA digest), never for secrets.
std::string Sha1Hex(std::string_view data);

// `bytes` bytes from the OS's CSPRNG, as lowercase hex (2*bytes characters).
std::string RandomHex(size_t bytes);

// Base64url without padding (RFC 4648 section 5), as JOSE uses it.
std::string Base64UrlEncode(std::string_view data);
// Decodes base64url; trailing '=' padding is accepted. nullopt on any other character or an
// impossible length.
std::optional<std::string> Base64UrlDecode(std::string_view text);

// Compares two strings in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace switchboard::crypto
