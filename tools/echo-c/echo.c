/* sb-echo-c: a minimal, fast STDIO MCP server in C, the upstream of the benchmarks.
 *
 * Newline-delimited JSON-RPC on stdin/stdout. It answers initialize, ping, tools/list (one tool,
 * `echo`) and tools/call echo {message} with {"content":[{"type":"text","text":"Echo: <message>"}]}
 * like @modelcontextprotocol/server-everything, the message copied through with its JSON escapes
 * intact. Unknown methods get -32601, unknown tools -32602, notifications and responses are
 * ignored, and the process exits when stdin ends. Lines may be of any length, members may come
 * in any order, and ids (strings or numbers) are copied back byte for byte.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum {
  kParseError = -32700,
  kInvalidRequest = -32600,
  kMethodNotFound = -32601,
  kInvalidParams = -32602,
};

static const char kDefaultVersion[] = "2025-06-18";
static const char* const kVersions[] = {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"};

static const char kToolsList[] =
    "{\"tools\":[{\"name\":\"echo\",\"description\":\"Echoes back the input\","
    "\"inputSchema\":{\"type\":\"object\",\"properties\":{\"message\":{\"type\":\"string\","
    "\"description\":\"Message to echo\"}},\"required\":[\"message\"]}}]}";

/* A growable byte buffer. */
typedef struct {
  char* data;
  size_t len;
  size_t cap;
} Buffer;

/* A byte range of the line being handled; `data == NULL` means absent. */
typedef struct {
  const char* data;
  size_t len;
} Span;

static void Die(void) { _exit(1); }

static void Reserve(Buffer* b, size_t extra) {
  if (b->cap - b->len >= extra) return;
  size_t cap = b->cap ? b->cap : 4096;
  while (cap - b->len < extra) {
    if (cap > SIZE_MAX / 2) Die();
    cap *= 2;
  }
  char* data = realloc(b->data, cap);
  if (data == NULL) Die();
  b->data = data;
  b->cap = cap;
}

static void Append(Buffer* b, const char* data, size_t len) {
  Reserve(b, len);
  memcpy(b->data + b->len, data, len); /* NOLINT: glibc has no Annex K memcpy_s */
  b->len += len;
}

static void AppendStr(Buffer* b, const char* s) { Append(b, s, strlen(s)); }

static void AppendSpan(Buffer* b, Span s) { Append(b, s.data, s.len); }

static void AppendInt(Buffer* b, int value) {
  char digits[16];
  size_t n = 0;
  unsigned magnitude = value < 0 ? 0u - (unsigned)value : (unsigned)value;
  do {
    digits[n++] = (char)('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0);
  if (value < 0) AppendStr(b, "-");
  while (n > 0) Append(b, &digits[--n], 1);
}

/* ---- Output: one buffer, written out after each message. ---- */

static Buffer g_out;

static void Flush(void) {
  size_t done = 0;
  while (done < g_out.len) {
    ssize_t n = write(STDOUT_FILENO, g_out.data + done, g_out.len - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      _exit(0); /* nobody is reading any more */
    }
    done += (size_t)n;
  }
  g_out.len = 0;
}

static void BeginMessage(Span id) {
  AppendStr(&g_out, "{\"jsonrpc\":\"2.0\",\"id\":");
  AppendSpan(&g_out, id);
}

static void EndMessage(void) {
  AppendStr(&g_out, "}\n");
  Flush();
}

static void SendResult(Span id, const char* result) {
  BeginMessage(id);
  AppendStr(&g_out, ",\"result\":");
  AppendStr(&g_out, result);
  EndMessage();
}

/* `detail`, when present, is the body of a JSON string literal appended to the message. */
static void SendError(Span id, int code, const char* message, Span detail) {
  BeginMessage(id);
  AppendStr(&g_out, ",\"error\":{\"code\":");
  AppendInt(&g_out, code);
  AppendStr(&g_out, ",\"message\":\"");
  AppendStr(&g_out, message);
  if (detail.data != NULL) AppendSpan(&g_out, detail);
  AppendStr(&g_out, "\"}");
  EndMessage();
}

static const Span kNullId = {"null", 4};
static const Span kNoDetail = {NULL, 0};

/* ---- A small validating JSON scanner over one line. ---- */

typedef struct {
  const char* p;
  const char* end;
  int depth;
} Scanner;

enum { kMaxDepth = 512 };

static void SkipSpace(Scanner* s) {
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r')) {
    ++s->p;
  }
}

static bool IsHex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* Skips a string literal; on success `*body` is the bytes between the quotes. */
static bool ScanString(Scanner* s, Span* body) {
  if (s->p >= s->end || *s->p != '"') return false;
  const char* start = ++s->p;
  while (s->p < s->end) {
    unsigned char c = (unsigned char)*s->p;
    if (c == '"') {
      if (body != NULL) {
        body->data = start;
        body->len = (size_t)(s->p - start);
      }
      ++s->p;
      return true;
    }
    if (c < 0x20) return false;
    if (c == '\\') {
      if (++s->p >= s->end) return false;
      char e = *s->p;
      if (e == 'u') {
        if (s->end - s->p < 5) return false;
        for (int i = 1; i <= 4; ++i) {
          if (!IsHex(s->p[i])) return false;
        }
        s->p += 4;
      } else if (strchr("\"\\/bfnrt", e) == NULL || e == '\0') {
        return false;
      }
    }
    ++s->p;
  }
  return false;
}

static bool ScanDigits(Scanner* s) {
  const char* start = s->p;
  while (s->p < s->end && *s->p >= '0' && *s->p <= '9') ++s->p;
  return s->p > start;
}

static bool ScanNumber(Scanner* s) {
  if (s->p < s->end && *s->p == '-') ++s->p;
  if (s->p < s->end && *s->p == '0') {
    ++s->p;
  } else if (!ScanDigits(s)) {
    return false;
  }
  if (s->p < s->end && *s->p == '.') {
    ++s->p;
    if (!ScanDigits(s)) return false;
  }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E')) {
    ++s->p;
    if (s->p < s->end && (*s->p == '+' || *s->p == '-')) ++s->p;
    if (!ScanDigits(s)) return false;
  }
  return true;
}

static bool ScanLiteral(Scanner* s, const char* word) {
  size_t n = strlen(word);
  if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0) return false;
  s->p += n;
  return true;
}

static bool ScanValue(Scanner* s, Span* value);

/* Calls `member` for each key and value of the object at the scanner; false if malformed. */
typedef void (*MemberFn)(void* ctx, Span key, Span value);

static bool ScanObject(Scanner* s, MemberFn member, void* ctx) {
  if (s->p >= s->end || *s->p != '{') return false;
  if (++s->depth > kMaxDepth) return false;
  ++s->p;
  SkipSpace(s);
  if (s->p < s->end && *s->p == '}') {
    ++s->p;
    --s->depth;
    return true;
  }
  while (true) {
    Span key;
    Span value;
    SkipSpace(s);
    if (!ScanString(s, &key)) return false;
    SkipSpace(s);
    if (s->p >= s->end || *s->p != ':') return false;
    ++s->p;
    SkipSpace(s);
    if (!ScanValue(s, &value)) return false;
    if (member != NULL) member(ctx, key, value);
    SkipSpace(s);
    if (s->p >= s->end) return false;
    if (*s->p == ',') {
      ++s->p;
      continue;
    }
    if (*s->p != '}') return false;
    ++s->p;
    --s->depth;
    return true;
  }
}

static bool ScanArray(Scanner* s) {
  if (++s->depth > kMaxDepth) return false;
  ++s->p; /* '[' */
  SkipSpace(s);
  if (s->p < s->end && *s->p == ']') {
    ++s->p;
    --s->depth;
    return true;
  }
  while (true) {
    SkipSpace(s);
    if (!ScanValue(s, NULL)) return false;
    SkipSpace(s);
    if (s->p >= s->end) return false;
    if (*s->p == ',') {
      ++s->p;
      continue;
    }
    if (*s->p != ']') return false;
    ++s->p;
    --s->depth;
    return true;
  }
}

/* Skips one JSON value; on success `*value` is its raw text. */
static bool ScanValue(Scanner* s, Span* value) {
  if (s->p >= s->end) return false;
  const char* start = s->p;
  bool ok;
  switch (*s->p) {
    case '{':
      ok = ScanObject(s, NULL, NULL);
      break;
    case '[':
      ok = ScanArray(s);
      break;
    case '"':
      ok = ScanString(s, NULL);
      break;
    case 't':
      ok = ScanLiteral(s, "true");
      break;
    case 'f':
      ok = ScanLiteral(s, "false");
      break;
    case 'n':
      ok = ScanLiteral(s, "null");
      break;
    default:
      ok = ScanNumber(s);
      break;
  }
  if (ok && value != NULL) {
    value->data = start;
    value->len = (size_t)(s->p - start);
  }
  return ok;
}

/* ---- Reading members. ---- */

static int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

/* True when the body of a (valid) string literal decodes to exactly `want` (ASCII). */
static bool StringEquals(Span body, const char* want) {
  const char* p = body.data;
  const char* end = body.data + body.len;
  for (; *want != '\0'; ++want) {
    if (p >= end) return false;
    char c = *p++;
    if (c == '\\') {
      char e = *p++;
      switch (e) {
        case 'b':
          c = '\b';
          break;
        case 'f':
          c = '\f';
          break;
        case 'n':
          c = '\n';
          break;
        case 'r':
          c = '\r';
          break;
        case 't':
          c = '\t';
          break;
        case 'u': {
          int code = 0;
          for (int i = 0; i < 4; ++i) code = code * 16 + HexValue(p[i]);
          p += 4;
          if (code >= 0x80) return false; /* `want` is ASCII */
          c = (char)code;
          break;
        }
        default:
          c = e;
          break; /* \" \\ \/ */
      }
    }
    if (c != *want) return false;
  }
  return p == end;
}

static bool KeyIs(Span key, const char* name) {
  size_t n = strlen(name);
  if (key.len == n && memcmp(key.data, name, n) == 0) return true;
  return memchr(key.data, '\\', key.len) != NULL && StringEquals(key, name);
}

/* The members of a message this server looks at. */
typedef struct {
  Span id;
  Span method;
  Span params;
} Envelope;

static void EnvelopeMember(void* ctx, Span key, Span value) {
  Envelope* env = ctx;
  if (KeyIs(key, "id")) {
    env->id = value;
  } else if (KeyIs(key, "method")) {
    env->method = value;
  } else if (KeyIs(key, "params")) {
    env->params = value;
  }
}

/* Finds member `name` of the (valid) object `object`. */
typedef struct {
  const char* name;
  Span found;
} Lookup;

static void LookupMember(void* ctx, Span key, Span value) {
  Lookup* lookup = ctx;
  if (KeyIs(key, lookup->name)) lookup->found = value;
}

static Span Member(Span object, const char* name) {
  Lookup lookup = {name, {NULL, 0}};
  if (object.data == NULL || object.len == 0 || object.data[0] != '{') return lookup.found;
  Scanner s = {object.data, object.data + object.len, 0};
  ScanObject(&s, LookupMember, &lookup);
  return lookup.found;
}

/* The body of the string member `name`, or an absent span when it is missing or not a string. */
static Span StringMember(Span object, const char* name) {
  Span value = Member(object, name);
  Span body = {NULL, 0};
  if (value.data == NULL || value.data[0] != '"') return body;
  body.data = value.data + 1;
  body.len = value.len - 2;
  return body;
}

/* ---- Methods. ---- */

static void Initialize(Span id, Span params) {
  const char* version = kDefaultVersion;
  Span asked = StringMember(params, "protocolVersion");
  if (asked.data != NULL) {
    for (size_t i = 0; i < sizeof(kVersions) / sizeof(kVersions[0]); ++i) {
      if (StringEquals(asked, kVersions[i])) version = kVersions[i];
    }
  }
  BeginMessage(id);
  AppendStr(&g_out, ",\"result\":{\"protocolVersion\":\"");
  AppendStr(&g_out, version);
  AppendStr(&g_out,
            "\",\"capabilities\":{\"tools\":{}},"
            "\"serverInfo\":{\"name\":\"sb-echo-c\",\"version\":\"0.1.0\"}}");
  EndMessage();
}

static void CallTool(Span id, Span params) {
  Span name = StringMember(params, "name");
  if (name.data == NULL) {
    SendError(id, kInvalidParams, "Invalid params: tools/call needs a tool name", kNoDetail);
    return;
  }
  if (!StringEquals(name, "echo")) {
    SendError(id, kInvalidParams, "Unknown tool: ", name);
    return;
  }
  Span message = StringMember(Member(params, "arguments"), "message");
  if (message.data == NULL) {
    SendError(id, kInvalidParams, "Invalid arguments for tool echo: message must be a string",
              kNoDetail);
    return;
  }
  BeginMessage(id);
  AppendStr(&g_out, ",\"result\":{\"content\":[{\"type\":\"text\",\"text\":\"Echo: ");
  AppendSpan(&g_out, message);
  AppendStr(&g_out, "\"}]}");
  EndMessage();
}

static void HandleLine(const char* line, size_t len) {
  if (len > 0 && line[len - 1] == '\r') --len;
  Scanner s = {line, line + len, 0};
  SkipSpace(&s);
  if (s.p == s.end) return; /* blank line */
  if (*s.p != '{') {
    Span ignored;
    bool valid = ScanValue(&s, &ignored);
    SkipSpace(&s);
    if (valid && s.p == s.end) {
      SendError(kNullId, kInvalidRequest, "Invalid Request", kNoDetail);
    } else {
      SendError(kNullId, kParseError, "Parse error", kNoDetail);
    }
    return;
  }
  Envelope env = {{NULL, 0}, {NULL, 0}, {NULL, 0}};
  bool valid = ScanObject(&s, EnvelopeMember, &env);
  SkipSpace(&s);
  if (!valid || s.p != s.end) {
    SendError(kNullId, kParseError, "Parse error", kNoDetail);
    return;
  }
  if (env.method.data == NULL) return; /* a response: this server never sends requests */
  if (env.id.data == NULL) return;     /* a notification */
  char first = env.id.data[0];
  if (first == '{' || first == '[' || first == 't' || first == 'f') {
    SendError(kNullId, kInvalidRequest, "Invalid Request: id must be a string or a number",
              kNoDetail);
    return;
  }
  if (env.method.data[0] != '"') {
    SendError(env.id, kInvalidRequest, "Invalid Request: method must be a string", kNoDetail);
    return;
  }
  Span method = {env.method.data + 1, env.method.len - 2};
  if (StringEquals(method, "tools/call")) {
    CallTool(env.id, env.params);
  } else if (StringEquals(method, "tools/list")) {
    SendResult(env.id, kToolsList);
  } else if (StringEquals(method, "ping")) {
    SendResult(env.id, "{}");
  } else if (StringEquals(method, "initialize")) {
    Initialize(env.id, env.params);
  } else {
    SendError(env.id, kMethodNotFound, "Method not found: ", method);
  }
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  Buffer in = {NULL, 0, 0};
  size_t start = 0;   /* first byte of the line being assembled */
  size_t scanned = 0; /* bytes from `start` already known to hold no newline */
  while (true) {
    if (start > 0 && start == in.len) {
      in.len = 0;
      start = 0;
    } else if (start > 0 && start >= in.cap / 2) {
      memmove(in.data, in.data + start, in.len - start); /* NOLINT: no Annex K in glibc */
      in.len -= start;
      start = 0;
    }
    Reserve(&in, 64 * 1024);
    ssize_t n = read(STDIN_FILENO, in.data + in.len, in.cap - in.len);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    in.len += (size_t)n;
    while (true) {
      char* nl = memchr(in.data + start + scanned, '\n', in.len - start - scanned);
      if (nl == NULL) {
        scanned = in.len - start;
        break;
      }
      size_t line_len = (size_t)(nl - (in.data + start));
      HandleLine(in.data + start, line_len);
      start += line_len + 1;
      scanned = 0;
    }
  }
  if (in.len > start) HandleLine(in.data + start, in.len - start);
  free(in.data);
  free(g_out.data);
  return 0;
}
