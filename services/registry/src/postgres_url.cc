#include "services/registry/src/postgres_url.h"

#include <vector>

#include "switchboard/common/strings.h"

namespace switchboard::registry {
namespace {

constexpr std::string_view kMask = "***";

struct UrlParts {
  size_t authority_begin = 0;
  size_t authority_end = 0;                     // first '/', '?' or end after the authority
  size_t query_begin = std::string_view::npos;  // index of '?'
};

bool ParseUrl(std::string_view url, UrlParts* parts) {
  size_t scheme = url.find("://");
  if (scheme == std::string_view::npos) return false;
  std::string_view name = url.substr(0, scheme);
  if (name != "postgresql" && name != "postgres") return false;
  parts->authority_begin = scheme + 3;
  parts->authority_end = url.find_first_of("/?", parts->authority_begin);
  if (parts->authority_end == std::string_view::npos) parts->authority_end = url.size();
  parts->query_begin = url.find('?', parts->authority_begin);
  return true;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Spans [begin, end) of every password value in the connection string.
std::vector<std::pair<size_t, size_t>> PasswordSpans(std::string_view url) {
  std::vector<std::pair<size_t, size_t>> spans;
  UrlParts p;
  if (ParseUrl(url, &p)) {
    std::string_view authority = url.substr(p.authority_begin, p.authority_end - p.authority_begin);
    size_t at = authority.rfind('@');
    if (at != std::string_view::npos) {
      size_t colon = authority.substr(0, at).find(':');
      if (colon != std::string_view::npos) {
        spans.emplace_back(p.authority_begin + colon + 1, p.authority_begin + at);
      }
    }
    if (p.query_begin != std::string_view::npos) {
      size_t pos = p.query_begin + 1;
      while (pos <= url.size()) {
        size_t amp = url.find('&', pos);
        if (amp == std::string_view::npos) amp = url.size();
        std::string_view param = url.substr(pos, amp - pos);
        if (param.rfind("password=", 0) == 0) spans.emplace_back(pos + 9, amp);
        pos = amp + 1;
      }
    }
    return spans;
  }
  // keyword=value form: password = 'quoted value' | bare_value
  size_t pos = 0;
  while ((pos = url.find("password", pos)) != std::string_view::npos) {
    bool at_word_start = pos == 0 || url[pos - 1] == ' ' || url[pos - 1] == '\t';
    size_t i = pos + 8;
    while (i < url.size() && url[i] == ' ') ++i;
    if (!at_word_start || i >= url.size() || url[i] != '=') {
      pos += 8;
      continue;
    }
    ++i;
    while (i < url.size() && url[i] == ' ') ++i;
    size_t begin = i;
    if (i < url.size() && url[i] == '\'') {
      ++i;
      while (i < url.size() && url[i] != '\'') i += (url[i] == '\\') ? 2 : 1;
      i = std::min(i + 1, url.size());
    } else {
      while (i < url.size() && url[i] != ' ' && url[i] != '\t') ++i;
    }
    spans.emplace_back(begin, i);
    pos = i;
  }
  return spans;
}

std::string ReplaceAll(std::string text, std::string_view needle, std::string_view with) {
  if (needle.empty()) return text;
  size_t pos = 0;
  while ((pos = text.find(needle, pos)) != std::string::npos) {
    text.replace(pos, needle.size(), with);
    pos += with.size();
  }
  return text;
}

}  // namespace

std::string RedactPostgresUrl(std::string_view url) {
  std::string out;
  size_t last = 0;
  for (auto [begin, end] : PasswordSpans(url)) {
    out.append(url.substr(last, begin - last));
    out.append(kMask);
    last = end;
  }
  out.append(url.substr(last));
  return out;
}

std::string SanitizeDbError(std::string_view message, std::string_view url) {
  std::string text(message);
  for (auto [begin, end] : PasswordSpans(url)) {
    std::string_view raw = url.substr(begin, end - begin);
    if (raw.size() >= 2 && raw.front() == '\'' && raw.back() == '\'') {
      raw = raw.substr(1, raw.size() - 2);
    }
    text = ReplaceAll(std::move(text), raw, kMask);
    text = ReplaceAll(std::move(text), PercentDecode(raw), kMask);
  }
  std::string line;
  bool space = false;
  for (char c : text) {
    if (c == '\n' || c == '\r' || c == '\t' || c == ' ') {
      space = !line.empty();
      continue;
    }
    if (space) line.push_back(' ');
    space = false;
    line.push_back(c);
  }
  return line;
}

absl::StatusOr<std::string> WithDatabase(std::string_view url, std::string_view database) {
  UrlParts p;
  if (!ParseUrl(url, &p)) {
    return absl::InvalidArgumentError("expected a postgresql:// URL");
  }
  std::string out(url.substr(0, p.authority_end));
  out.append(StrCat("/", database));
  if (p.query_begin != std::string_view::npos) out.append(url.substr(p.query_begin));
  return out;
}

}  // namespace switchboard::registry
