#include "services/registry/src/migrations.h"

#include <algorithm>
#include <charconv>

#include "switchboard/common/crypto.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"

namespace switchboard::registry {
namespace {

constexpr std::string_view kSuffix = ".sql";

absl::StatusOr<Migration> ParseFileName(const MigrationFile& file) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        StrCat("migration file '", file.filename, "': ", why, " (expected NNNN_name.sql)"));
  };
  std::string_view name = file.filename;
  if (name.size() <= kSuffix.size() || name.substr(name.size() - kSuffix.size()) != kSuffix) {
    return bad("does not end in .sql");
  }
  name.remove_suffix(kSuffix.size());
  size_t underscore = name.find('_');
  if (underscore == std::string_view::npos) return bad("has no '_' after the version");
  std::string_view digits = name.substr(0, underscore);
  std::string_view label = name.substr(underscore + 1);
  if (digits.size() < 4 || digits.find_first_not_of("0123456789") != std::string_view::npos) {
    return bad("does not start with a version of at least four digits");
  }
  if (label.empty() ||
      label.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string_view::npos) {
    return bad("name may only use a-z, 0-9 and '_'");
  }
  Migration m;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), m.version);
  if (ec != std::errc() || ptr != digits.data() + digits.size()) return bad("version too large");
  m.name = std::string(label);
  m.filename = file.filename;
  m.sql = file.sql;
  m.sha256 = crypto::Sha256Hex(file.sql);
  return m;
}

}  // namespace

absl::StatusOr<std::vector<Migration>> OrderMigrations(const std::vector<MigrationFile>& files) {
  std::vector<Migration> out;
  out.reserve(files.size());
  for (const MigrationFile& f : files) {
    SB_ASSIGN_OR_RETURN(Migration m, ParseFileName(f));
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const Migration& a, const Migration& b) { return a.version < b.version; });
  for (size_t i = 0; i < out.size(); ++i) {
    if (i > 0 && out[i].version == out[i - 1].version) {
      return absl::InvalidArgumentError(StrCat("migrations '", out[i - 1].filename, "' and '",
                                               out[i].filename, "' share version ",
                                               out[i].version));
    }
    int expected = static_cast<int>(i) + 1;
    if (out[i].version != expected) {
      return absl::InvalidArgumentError(StrCat("migration '", out[i].filename, "' has version ",
                                               out[i].version, " but version ", expected,
                                               " is missing"));
    }
  }
  return out;
}

}  // namespace switchboard::registry
