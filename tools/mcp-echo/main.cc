// sb-mcp-echo: a minimal MCP server speaking newline-delimited JSON-RPC on stdin/stdout.
//
// Tools:
//   echo {message}    answers {"content":[{"type":"text","text":"Echo: <message>"}]}, exactly like
//                     @modelcontextprotocol/server-everything's echo
//   crash             exits with status 3 without answering
//   sleep {ms}        answers after `ms` milliseconds; with params._meta.progressToken it sends
//                     notifications/progress when it starts and when it wakes up
//   stderr {text}     writes `text` and a newline to stderr, then answers
//   notify {message}  sends notifications/message (level info, data = message), then answers
//   sample {prompt}   asks the client sampling/createMessage with `prompt`, then answers
//                     "Sampled: <the text the client returned>" (isError if the client refused)
//
// Notifications are ignored; the process exits when stdin ends.
#include <unistd.h>

#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace switchboard::mcp_echo {
namespace {

namespace json = boost::json;

constexpr std::string_view kDefaultProtocolVersion = "2025-06-18";
constexpr std::string_view kProtocolVersions[] = {"2024-11-05", "2025-03-26", "2025-06-18",
                                                  "2025-11-25"};
constexpr int64_t kMaxSleepMs = int64_t{24} * 3600 * 1000;
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;

constexpr std::string_view kToolsList =
    R"({"tools":[)"
    R"({"name":"echo","description":"Echoes back the input",)"
    R"("inputSchema":{"type":"object","properties":{"message":{"type":"string",)"
    R"("description":"Message to echo"}},"required":["message"]}},)"
    R"({"name":"crash","description":"Exits the server process with status 3 without answering",)"
    R"("inputSchema":{"type":"object","properties":{}}},)"
    R"({"name":"sleep","description":"Answers after the given number of milliseconds",)"
    R"("inputSchema":{"type":"object","properties":{"ms":{"type":"integer","minimum":0,)"
    R"("description":"How long to wait"}},"required":["ms"]}},)"
    R"({"name":"stderr","description":"Writes text to the server's stderr, then answers",)"
    R"("inputSchema":{"type":"object","properties":{"text":{"type":"string",)"
    R"("description":"Text to write"}},"required":["text"]}},)"
    R"({"name":"notify","description":"Sends a notifications/message to the client, then answers",)"
    R"("inputSchema":{"type":"object","properties":{"message":{"type":"string",)"
    R"("description":"The log message's data"}},"required":["message"]}},)"
    R"({"name":"sample","description":"Asks the client to sample a message, then answers with it",)"
    R"("inputSchema":{"type":"object","properties":{"prompt":{"type":"string",)"
    R"("description":"What to ask"}},"required":["prompt"]}})"
    R"(]})";

// Tool calls waiting for the client's answer to a sampling request: request id → call id.
std::map<std::string, json::value> g_sampling;
uint64_t g_next_sampling = 1;

// Guards stdout: `sleep` answers from its own thread.
std::mutex g_stdout_mu;

void WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      std::_Exit(0);  // nobody is reading any more
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
}

// Writes one JSON-RPC message as a line on stdout.
void Send(std::string message) {
  message.push_back('\n');
  std::lock_guard<std::mutex> lock(g_stdout_mu);
  WriteAll(STDOUT_FILENO, message);
}

std::string Result(const json::value& id, std::string_view result_json) {
  std::string out = R"({"jsonrpc":"2.0","id":)";
  out += json::serialize(id);
  out += R"(,"result":)";
  out += result_json;
  out += '}';
  return out;
}

std::string Error(const json::value& id, int code, std::string_view message) {
  json::object error;
  error["code"] = code;
  error["message"] = message;
  std::string out = R"({"jsonrpc":"2.0","id":)";
  out += json::serialize(id);
  out += R"(,"error":)";
  out += json::serialize(error);
  out += '}';
  return out;
}

std::string Notification(std::string_view method, const json::object& params) {
  std::string out = R"({"jsonrpc":"2.0","method":)";
  out += json::serialize(json::string(method));
  out += R"(,"params":)";
  out += json::serialize(params);
  out += '}';
  return out;
}

std::string TextContent(std::string_view text) {
  json::object item;
  item["type"] = "text";
  item["text"] = text;
  json::object result;
  result["content"] = json::array{std::move(item)};
  return json::serialize(result);
}

const json::object* ObjectMember(const json::object* o, std::string_view key) {
  if (o == nullptr) return nullptr;
  const json::value* v = o->if_contains(key);
  return v != nullptr && v->is_object() ? &v->as_object() : nullptr;
}

const json::string* StringMember(const json::object* o, std::string_view key) {
  if (o == nullptr) return nullptr;
  const json::value* v = o->if_contains(key);
  return v != nullptr && v->is_string() ? &v->as_string() : nullptr;
}

std::optional<int64_t> NonNegativeInteger(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  if (v->is_int64() && v->as_int64() >= 0) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->as_uint64());
  }
  if (v->is_double() && v->as_double() >= 0 && v->as_double() <= 9.0e18) {
    return static_cast<int64_t>(v->as_double());
  }
  return std::nullopt;
}

std::string Initialize(const json::value& id, const json::object* params) {
  std::string_view version = kDefaultProtocolVersion;
  if (const json::string* asked = StringMember(params, "protocolVersion")) {
    for (std::string_view v : kProtocolVersions) {
      if (*asked == v) version = v;
    }
  }
  std::string result = R"({"protocolVersion":")";
  result += version;
  result += R"(","capabilities":{"tools":{},"logging":{}},)"
            R"("serverInfo":{"name":"sb-mcp-echo","version":"0.1.0"}})";
  return Result(id, result);
}

void Sleep(const json::value& id, int64_t ms, std::optional<json::value> progress_token) {
  // One thread per sleeping call, so other requests keep being answered meanwhile.
  std::thread([id, ms, token = std::move(progress_token)] {
    auto progress = [&](int64_t done) {
      json::object p;
      p["progressToken"] = *token;
      p["progress"] = done;
      p["total"] = ms;
      Send(Notification("notifications/progress", p));
    };
    if (token) progress(0);
    std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    if (token) progress(ms);
    Send(Result(id, TextContent("Slept " + std::to_string(ms) + " ms")));
  }).detach();
}

void CallTool(const json::value& id, const json::object* params) {
  const json::string* name = StringMember(params, "name");
  if (name == nullptr) {
    Send(Error(id, kInvalidParams, "Invalid params: tools/call needs a tool name"));
    return;
  }
  const json::object* args = ObjectMember(params, "arguments");
  auto bad_args = [&](std::string_view why) {
    Send(Error(id, kInvalidParams,
               "Invalid arguments for tool " + std::string(*name) + ": " + std::string(why)));
  };
  if (*name == "echo") {
    const json::string* message = StringMember(args, "message");
    if (message == nullptr) return bad_args("message must be a string");
    Send(Result(id, TextContent("Echo: " + std::string(*message))));
  } else if (*name == "crash") {
    std::_Exit(3);
  } else if (*name == "sleep") {
    std::optional<int64_t> ms = NonNegativeInteger(args ? args->if_contains("ms") : nullptr);
    if (!ms || *ms > kMaxSleepMs) return bad_args("ms must be an integer from 0 to 86400000");
    std::optional<json::value> token;
    if (const json::object* meta = ObjectMember(params, "_meta")) {
      if (const json::value* t = meta->if_contains("progressToken")) token = *t;
    }
    Sleep(id, *ms, std::move(token));
  } else if (*name == "stderr") {
    const json::string* text = StringMember(args, "text");
    if (text == nullptr) return bad_args("text must be a string");
    std::string line(*text);
    line.push_back('\n');
    WriteAll(STDERR_FILENO, line);
    Send(Result(id, TextContent("Wrote " + std::to_string(text->size()) + " bytes to stderr")));
  } else if (*name == "notify") {
    const json::string* message = StringMember(args, "message");
    if (message == nullptr) return bad_args("message must be a string");
    json::object p;
    p["level"] = "info";
    p["logger"] = "sb-mcp-echo";
    p["data"] = *message;
    Send(Notification("notifications/message", p));
    Send(Result(id, TextContent("Notified")));
  } else if (*name == "sample") {
    const json::string* prompt = StringMember(args, "prompt");
    if (prompt == nullptr) return bad_args("prompt must be a string");
    std::string request_id = "sample-" + std::to_string(g_next_sampling++);
    g_sampling[request_id] = id;
    json::object p;
    p["messages"] = json::array{json::object{
        {"role", "user"}, {"content", json::object{{"type", "text"}, {"text", *prompt}}}}};
    p["maxTokens"] = 100;
    Send(json::serialize(json::object{{"jsonrpc", "2.0"},
                                      {"id", request_id},
                                      {"method", "sampling/createMessage"},
                                      {"params", p}}));
  } else {
    Send(Error(id, kInvalidParams, "Unknown tool: " + std::string(*name)));
  }
}

// The client's answer to a sampling request: finishes the tool call that asked.
void HandleResponse(const json::object& o) {
  const json::value* id = o.if_contains("id");
  if (id == nullptr || !id->is_string()) return;
  auto it = g_sampling.find(std::string(id->as_string()));
  if (it == g_sampling.end()) return;
  json::value call_id = it->second;
  g_sampling.erase(it);
  std::string text;
  if (const json::object* result = ObjectMember(&o, "result")) {
    if (const json::object* content = ObjectMember(result, "content")) {
      if (const json::string* t = StringMember(content, "text")) text = std::string(*t);
    }
    Send(Result(call_id, TextContent("Sampled: " + text)));
    return;
  }
  json::object refused;
  refused["content"] = json::array{json::object{{"type", "text"}, {"text", "The client refused to sample"}}};
  refused["isError"] = true;
  Send(Result(call_id, json::serialize(refused)));
}

void HandleLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.find_first_not_of(" \t") == std::string_view::npos) return;
  boost::system::error_code ec;
  json::value msg = json::parse(line, ec);
  if (ec) {
    Send(Error(nullptr, kParseError, "Parse error"));
    return;
  }
  if (!msg.is_object()) {
    Send(Error(nullptr, kInvalidRequest, "Invalid Request"));
    return;
  }
  const json::object& o = msg.as_object();
  const json::value* id = o.if_contains("id");
  const json::value* method = o.if_contains("method");
  if (method == nullptr) {  // a response: to a sampling request of ours
    HandleResponse(o);
    return;
  }
  if (id == nullptr) return;      // a notification
  if (!method->is_string()) {
    Send(Error(*id, kInvalidRequest, "Invalid Request: method must be a string"));
    return;
  }
  std::string_view m = method->as_string();
  const json::object* params = ObjectMember(&o, "params");
  if (m == "initialize") {
    Send(Initialize(*id, params));
  } else if (m == "ping" || m == "logging/setLevel") {
    Send(Result(*id, "{}"));
  } else if (m == "tools/list") {
    Send(Result(*id, kToolsList));
  } else if (m == "tools/call") {
    CallTool(*id, params);
  } else {
    Send(Error(*id, kMethodNotFound, "Method not found: " + std::string(m)));
  }
}

[[noreturn]] void Run() {
  std::string partial;
  char buf[64 * 1024];
  while (true) {
    ssize_t n = ::read(STDIN_FILENO, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    std::string_view chunk(buf, static_cast<size_t>(n));
    for (size_t nl = chunk.find('\n'); nl != std::string_view::npos; nl = chunk.find('\n')) {
      if (partial.empty()) {
        HandleLine(chunk.substr(0, nl));
      } else {
        partial.append(chunk.substr(0, nl));
        HandleLine(partial);
        partial.clear();
      }
      chunk.remove_prefix(nl + 1);
    }
    partial.append(chunk);
  }
  if (!partial.empty()) HandleLine(partial);
  // Sleeping calls may still hold threads: leave without running static destructors.
  std::_Exit(0);
}

}  // namespace
}  // namespace switchboard::mcp_echo

int main() { switchboard::mcp_echo::Run(); }
