#pragma once

#include <string>
#include <string_view>
#include <type_traits>

namespace switchboard {

namespace strings_internal {

inline void AppendPiece(std::string* out, std::string_view piece) { out->append(piece); }
inline void AppendPiece(std::string* out, const char* piece) { out->append(piece); }
inline void AppendPiece(std::string* out, char c) { out->push_back(c); }
template <typename T, typename = std::enable_if_t<std::is_arithmetic_v<T>>>
void AppendPiece(std::string* out, T value) {
  out->append(std::to_string(value));
}

}  // namespace strings_internal

// Concatenates strings, string views and numbers (absl::StrCat for std::string_view: Debian's
// abseil has its own string_view type).
template <typename... Args>
std::string StrCat(const Args&... args) {
  std::string out;
  (strings_internal::AppendPiece(&out, args), ...);
  return out;
}

}  // namespace switchboard
