#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>

// Returns the status of `expr` from the enclosing function when it is not OK.
#define SB_RETURN_IF_ERROR(expr)          \
  do {                                    \
    const absl::Status sb_status_ = (expr); \
    if (!sb_status_.ok()) return sb_status_; \
  } while (0)

#define SB_STATUS_CONCAT_INNER(a, b) a##b
#define SB_STATUS_CONCAT(a, b) SB_STATUS_CONCAT_INNER(a, b)

// Declares `lhs` from a StatusOr expression, or returns its error from the enclosing function.
#define SB_ASSIGN_OR_RETURN(lhs, expr)                                 \
  auto SB_STATUS_CONCAT(sb_statusor_, __LINE__) = (expr);              \
  if (!SB_STATUS_CONCAT(sb_statusor_, __LINE__).ok())                  \
    return SB_STATUS_CONCAT(sb_statusor_, __LINE__).status();          \
  lhs = std::move(*SB_STATUS_CONCAT(sb_statusor_, __LINE__))

#include <string_view>

namespace switchboard {

// A status's message as a std::string_view (Debian's abseil has its own string_view type).
inline std::string_view MessageOf(const absl::Status& status) {
  auto m = status.message();
  return std::string_view(m.data(), m.size());
}

}  // namespace switchboard
