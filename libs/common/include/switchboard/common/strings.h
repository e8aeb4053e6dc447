#pragma once

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

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

// `s` without leading and trailing spaces and tabs (HTTP's optional white space).
inline std::string_view TrimBlanks(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The items of a `separator`-separated list, each trimmed of blanks, empty ones dropped:
// "a, b,,c" -> {"a", "b", "c"}.
inline std::vector<std::string> SplitList(std::string_view list, char separator = ',') {
  std::vector<std::string> out;
  while (true) {
    size_t at = list.find(separator);
    std::string_view item = TrimBlanks(list.substr(0, at));
    if (!item.empty()) out.emplace_back(item);
    if (at == std::string_view::npos) return out;
    list.remove_prefix(at + 1);
  }
}

}  // namespace switchboard
