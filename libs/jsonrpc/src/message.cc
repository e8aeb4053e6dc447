#include "switchboard/jsonrpc/message.h"

#include <algorithm>
#include <array>
#include <charconv>

namespace switchboard::jsonrpc {
namespace {

constexpr int kMaxDepth = 256;

// Bytes that end a run of plain string content: the quote, the backslash and control bytes.
constexpr auto kSpecial = [] {
  std::array<bool, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = true;
  t['"'] = true;
  t['\\'] = true;
  return t;
}();

// A strict JSON (RFC 8259) recogniser over a string_view. It builds nothing; the caller reads
// positions.
class Reader {
 public:
  explicit Reader(std::string_view text) : s_(text) {}

  size_t pos() const { return pos_; }
  bool AtEnd() {
    SkipWs();
    return pos_ == s_.size();
  }
  char Peek() {
    SkipWs();
    return pos_ < s_.size() ? s_[pos_] : '\0';
  }
  bool Consume(char c) {
    SkipWs();
    if (pos_ < s_.size() && s_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }

  // Skips one value; returns its span.
  bool Value(Span* span, int depth = 0) {
    SkipWs();
    if (depth > kMaxDepth || pos_ >= s_.size()) return false;
    size_t start = pos_;
    bool ok = false;
    switch (s_[pos_]) {
      case '{':
        ok = Object(depth);
        break;
      case '[':
        ok = Array(depth);
        break;
      case '"':
        ok = String();
        break;
      case 't':
        ok = Literal("true");
        break;
      case 'f':
        ok = Literal("false");
        break;
      case 'n':
        ok = Literal("null");
        break;
      default:
        ok = Number();
    }
    if (ok && span != nullptr) *span = {start, pos_ - start};
    return ok;
  }

  bool String() {
    if (pos_ >= s_.size() || s_[pos_] != '"') return false;
    ++pos_;
    const char* data = s_.data();
    const size_t size = s_.size();
    while (pos_ < size) {
      // Skip plain bytes fast; stop at a quote, a backslash or a control character.
      while (pos_ < size && !kSpecial[static_cast<unsigned char>(data[pos_])]) ++pos_;
      if (pos_ >= size) return false;
      unsigned char c = static_cast<unsigned char>(data[pos_]);
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (c < 0x20) return false;
      // A backslash escape.
      ++pos_;
      if (pos_ >= size) return false;
      char e = data[pos_];
      if (e == 'u') {
        for (int i = 1; i <= 4; ++i) {
          if (pos_ + i >= size || !IsHex(data[pos_ + i])) return false;
        }
        pos_ += 5;
        continue;
      }
      if (e != '"' && e != '\\' && e != '/' && e != 'b' && e != 'f' && e != 'n' && e != 'r' &&
          e != 't') {
        return false;
      }
      ++pos_;
    }
    return false;
  }

 private:
  static bool IsHex(char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  }
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  void SkipWs() {
    while (pos_ < s_.size() &&
           (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Literal(std::string_view word) {
    if (s_.substr(pos_, word.size()) != word) return false;
    pos_ += word.size();
    return true;
  }

  bool Number() {
    size_t p = pos_;
    if (p < s_.size() && s_[p] == '-') ++p;
    if (p >= s_.size()) return false;
    if (s_[p] == '0') {
      ++p;
    } else if (IsDigit(s_[p])) {
      while (p < s_.size() && IsDigit(s_[p])) ++p;
    } else {
      return false;
    }
    if (p < s_.size() && s_[p] == '.') {
      ++p;
      if (p >= s_.size() || !IsDigit(s_[p])) return false;
      while (p < s_.size() && IsDigit(s_[p])) ++p;
    }
    if (p < s_.size() && (s_[p] == 'e' || s_[p] == 'E')) {
      ++p;
      if (p < s_.size() && (s_[p] == '+' || s_[p] == '-')) ++p;
      if (p >= s_.size() || !IsDigit(s_[p])) return false;
      while (p < s_.size() && IsDigit(s_[p])) ++p;
    }
    pos_ = p;
    return true;
  }

  bool Object(int depth) {
    ++pos_;  // '{'
    if (Consume('}')) return true;
    while (true) {
      SkipWs();
      if (!String()) return false;
      if (!Consume(':')) return false;
      if (!Value(nullptr, depth + 1)) return false;
      if (Consume(',')) continue;
      return Consume('}');
    }
  }

  bool Array(int depth) {
    ++pos_;  // '['
    if (Consume(']')) return true;
    while (true) {
      if (!Value(nullptr, depth + 1)) return false;
      if (Consume(',')) continue;
      return Consume(']');
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
};

void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

uint32_t Hex4(std::string_view s) {
  uint32_t v = 0;
  std::from_chars(s.data(), s.data() + 4, v, 16);
  return v;
}

}  // namespace

bool IsValidJson(std::string_view text) {
  Reader r(text);
  Span span;
  return r.Value(&span) && r.AtEnd();
}

bool Scan(std::string_view text, Envelope* out, ScanError* err) {
  *err = ScanError{};
  auto parse_error = [&] {
    err->code = kParseError;
    err->message = "Parse error";
    return false;
  };
  Reader r(text);
  char first = r.Peek();
  if (first != '{') {
    Span whole;
    if (!r.Value(&whole) || !r.AtEnd()) return parse_error();
    err->code = kInvalidRequest;
    err->message = first == '[' ? "Invalid Request: JSON-RPC batches are not supported"
                                : "Invalid Request: expected a JSON object";
    return false;
  }
  // One pass: walk the top-level members, validating every value on the way.
  *out = Envelope{};
  bool has_id = false, has_method = false, has_version = false;
  Span method_span;
  r.Consume('{');
  if (!r.Consume('}')) {
    while (true) {
      r.Peek();
      size_t key_start = r.pos();
      if (!r.String()) return parse_error();
      std::string_view key = text.substr(key_start, r.pos() - key_start);
      if (!r.Consume(':')) return parse_error();
      Span value;
      if (!r.Value(&value)) return parse_error();
      if (key == "\"id\"") {
        has_id = true;
        out->id = value;
      } else if (key == "\"method\"") {
        has_method = true;
        method_span = value;
      } else if (key == "\"params\"") {
        out->params = value;
      } else if (key == "\"result\"") {
        out->result = value;
      } else if (key == "\"error\"") {
        out->error = value;
      } else if (key == "\"jsonrpc\"") {
        has_version = value.In(text) == "\"2.0\"";
      }
      if (r.Consume(',')) continue;
      if (!r.Consume('}')) return parse_error();
      break;
    }
  }
  if (!r.AtEnd()) return parse_error();
  auto invalid = [&](std::string_view why) {
    err->code = kInvalidRequest;
    err->message = std::string("Invalid Request: ") + std::string(why);
    return false;
  };
  if (has_id) {
    char c = text[out->id.pos];
    bool id_ok = c == '"' || c == '-' || (c >= '0' && c <= '9');
    if (id_ok) err->raw_id = std::string(out->id.In(text));
    if (!id_ok && !(out->id.In(text) == "null" && !has_method)) {
      return invalid("id must be a string or a number");
    }
  }
  if (!has_version) return invalid("\"jsonrpc\" must be \"2.0\"");
  if (has_method) {
    std::optional<std::string> method = DecodeString(method_span.In(text));
    if (!method) return invalid("method must be a string");
    out->method = std::move(*method);
    if (!out->params.empty()) {
      char p = text[out->params.pos];
      if (p != '{' && p != '[') return invalid("params must be an object or an array");
    }
    out->kind = has_id ? Kind::kRequest : Kind::kNotification;
    return true;
  }
  if (!has_id) return invalid("a message needs a method or an id");
  if (out->result.empty() == out->error.empty()) {
    return invalid("a response needs exactly one of result and error");
  }
  out->kind = Kind::kResponse;
  return true;
}

std::optional<Span> FindMember(std::string_view text, Span object, std::string_view key) {
  std::string_view obj = object.In(text);
  Reader r(obj);
  if (!r.Consume('{')) return std::nullopt;
  if (r.Consume('}')) return std::nullopt;
  while (true) {
    r.Peek();
    size_t key_start = r.pos();
    if (!r.String()) return std::nullopt;
    std::string_view raw_key = obj.substr(key_start, r.pos() - key_start);
    if (!r.Consume(':')) return std::nullopt;
    Span value;
    if (!r.Value(&value)) return std::nullopt;
    bool match = false;
    if (raw_key.size() == key.size() + 2 && raw_key.substr(1, key.size()) == key) {
      match = true;
    } else if (raw_key.find('\\') != std::string_view::npos) {
      std::optional<std::string> decoded = DecodeString(raw_key);
      match = decoded && *decoded == key;
    }
    if (match) return Span{object.pos + value.pos, value.len};
    if (!r.Consume(',')) return std::nullopt;
  }
}

std::optional<Span> FindProgressToken(std::string_view text, Span params) {
  if (params.empty()) return std::nullopt;
  std::optional<Span> meta = FindMember(text, params, "_meta");
  if (!meta || text[meta->pos] != '{') return std::nullopt;
  return FindMember(text, *meta, "progressToken");
}

std::optional<std::string> DecodeString(std::string_view literal) {
  if (literal.size() < 2 || literal.front() != '"' || literal.back() != '"') return std::nullopt;
  std::string out;
  out.reserve(literal.size() - 2);
  for (size_t i = 1; i + 1 < literal.size(); ++i) {
    char c = literal[i];
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++i + 1 > literal.size() - 1) return std::nullopt;
    switch (literal[i]) {
      case '"':
        out.push_back('"');
        break;
      case '\\':
        out.push_back('\\');
        break;
      case '/':
        out.push_back('/');
        break;
      case 'b':
        out.push_back('\b');
        break;
      case 'f':
        out.push_back('\f');
        break;
      case 'n':
        out.push_back('\n');
        break;
      case 'r':
        out.push_back('\r');
        break;
      case 't':
        out.push_back('\t');
        break;
      case 'u': {
        if (i + 4 >= literal.size()) return std::nullopt;
        uint32_t cp = Hex4(literal.substr(i + 1, 4));
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < literal.size() && literal[i + 1] == '\\' &&
            literal[i + 2] == 'u') {
          uint32_t lo = Hex4(literal.substr(i + 3, 4));
          if (lo >= 0xDC00 && lo <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
          }
        }
        AppendUtf8(cp, &out);
        break;
      }
      default:
        return std::nullopt;
    }
  }
  return out;
}

std::string EncodeString(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 2);
  out.push_back('"');
  for (char c : value) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char kHex[] = "0123456789abcdef";
          out += "\\u00";
          out.push_back(kHex[(c >> 4) & 0xf]);
          out.push_back(kHex[c & 0xf]);
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string Replace(std::string_view text, Span span, std::string_view replacement) {
  std::string out;
  out.reserve(text.size() - span.len + replacement.size());
  out.append(text.substr(0, span.pos));
  out.append(replacement);
  out.append(text.substr(span.pos + span.len));
  return out;
}

std::string Replace(std::string_view text, std::vector<Edit> edits) {
  std::sort(edits.begin(), edits.end(),
            [](const Edit& a, const Edit& b) { return a.span.pos < b.span.pos; });
  size_t size = text.size();
  for (const Edit& e : edits) size += e.text.size() - e.span.len;
  std::string out;
  out.reserve(size);
  size_t at = 0;
  for (const Edit& e : edits) {
    out.append(text.substr(at, e.span.pos - at));
    out.append(e.text);
    at = e.span.pos + e.span.len;
  }
  out.append(text.substr(at));
  return out;
}

std::optional<uint64_t> ParseUintId(std::string_view raw_id) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(raw_id.data(), raw_id.data() + raw_id.size(), v);
  if (ec != std::errc() || ptr != raw_id.data() + raw_id.size() || raw_id.empty()) {
    return std::nullopt;
  }
  return v;
}

std::string MakeError(std::string_view raw_id, int code, std::string_view message,
                      std::string_view data_json) {
  std::string out = R"({"jsonrpc":"2.0","id":)";
  out.append(raw_id.empty() ? "null" : raw_id);
  out.append(R"(,"error":{"code":)");
  out.append(std::to_string(code));
  out.append(R"(,"message":)");
  out.append(EncodeString(message));
  if (!data_json.empty()) {
    out.append(R"(,"data":)");
    out.append(data_json);
  }
  out.append("}}");
  return out;
}

std::string MakeResult(std::string_view raw_id, std::string_view result_json) {
  std::string out = R"({"jsonrpc":"2.0","id":)";
  out.append(raw_id);
  out.append(R"(,"result":)");
  out.append(result_json);
  out.push_back('}');
  return out;
}

std::string MakeRequest(std::string_view raw_id, std::string_view method,
                        std::string_view params_json) {
  std::string out = R"({"jsonrpc":"2.0","id":)";
  out.append(raw_id);
  out.append(R"(,"method":)");
  out.append(EncodeString(method));
  if (!params_json.empty()) {
    out.append(R"(,"params":)");
    out.append(params_json);
  }
  out.push_back('}');
  return out;
}

std::string MakeNotification(std::string_view method, std::string_view params_json) {
  std::string out = R"({"jsonrpc":"2.0","method":)";
  out.append(EncodeString(method));
  if (!params_json.empty()) {
    out.append(R"(,"params":)");
    out.append(params_json);
  }
  out.push_back('}');
  return out;
}

}  // namespace switchboard::jsonrpc
