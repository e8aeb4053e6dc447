#include "services/runner/src/shared_process.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <utility>
#include <vector>

#include "switchboard/common/log.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"

namespace switchboard::runner {
namespace {

using Clock = std::chrono::steady_clock;
using jsonrpc::Envelope;
using jsonrpc::Span;

constexpr size_t kMaxQueuedMessages = 10000;
constexpr std::string_view kProtocolVersion = "2025-06-18";

}  // namespace

SharedProcess::SharedProcess(ProcessContext* ctx, std::string server)
    : ctx_(ctx), server_(std::move(server)), init_timer_(ctx->io) {}

void SharedProcess::Attach(uint64_t attachment, std::shared_ptr<AttachmentSink> sink) {
  Client& client = clients_[attachment];
  client.sink = std::move(sink);
  switch (state_) {
    case State::kReady:
      OpenClient(client);
      return;
    case State::kStarting:
      return;  // opened with the others once initialize has been answered
    case State::kIdle:
      if (absl::Status backoff = CheckBackoff(); !backoff.ok()) {
        std::shared_ptr<AttachmentSink> closing = std::move(client.sink);
        clients_.erase(attachment);
        closing->OnClosed(backoff);
        return;
      }
      StartProcess();
      return;
  }
}

void SharedProcess::Send(uint64_t attachment, std::string message) {
  auto it = clients_.find(attachment);
  if (it == clients_.end()) return;
  if (state_ == State::kReady) {
    Forward(attachment, it->second, std::move(message));
    return;
  }
  if (state_ == State::kIdle) {
    if (absl::Status backoff = CheckBackoff(); !backoff.ok()) {
      Reject(it->second, message, MessageOf(backoff));
      return;
    }
  }
  if (queued_.size() >= kMaxQueuedMessages) {
    Reject(it->second, message,
           StrCat("too many messages are waiting for MCP server '", server_, "' to start"));
    return;
  }
  queued_.emplace_back(attachment, std::move(message));
  if (state_ == State::kIdle) StartProcess();
}

void SharedProcess::Detach(uint64_t attachment) {
  auto it = clients_.find(attachment);
  if (it == clients_.end()) return;
  for (const auto& [client_id, runner_id] : it->second.inflight) {
    if (!pending_.Take(runner_id)) continue;
    if (state_ == State::kReady && child_) {
      child_->Write(jsonrpc::MakeNotification(
          "notifications/cancelled",
          StrCat(R"({"requestId":)", runner_id, R"(,"reason":"the caller detached"})")));
    }
  }
  pending_.EraseIf([attachment](const Pending& p) { return p.attachment == attachment; });
  server_requests_.EraseIf(
      [attachment](const ServerRequest& r) { return r.attachment == attachment; });
  std::erase_if(queued_, [attachment](const auto& q) { return q.first == attachment; });
  clients_.erase(it);
}

void SharedProcess::Shutdown(const absl::Status& status) {
  std::map<uint64_t, Client> clients = std::move(clients_);
  clients_.clear();
  queued_.clear();
  pending_.Drain([](uint64_t, Pending&) {});
  init_timer_.cancel();
  child_.reset();
  state_ = State::kIdle;
  for (auto& [id, client] : clients) client.sink->OnClosed(status);
}

void SharedProcess::StartProcess() {
  state_ = State::kStarting;
  if (ctx_->shutting_down) {
    OnStartFailed("the runner is shutting down", /*server_failed=*/false);
    return;
  }
  absl::StatusOr<ServerSpec> spec = ctx_->catalog.Find(server_);
  if (!spec.ok()) {
    OnStartFailed(StrCat("cannot start MCP server '", server_, "': ", MessageOf(spec.status())));
    return;
  }
  if (spec->type != "STDIO") {
    OnStartFailed(StrCat("MCP server '", server_, "' is no longer a STDIO server"));
    return;
  }
  const int64_t cap = ctx_->options.max_processes;
  if (cap > 0 && ctx_->children.size() >= static_cast<size_t>(cap)) {
    // Not the server's fault: no backoff, the next use tries again.
    OnStartFailed(StrCat("cannot start MCP server '", server_, "': the runner's process cap (",
                         "max_processes=", cap, ") is reached; raise it or add runners"),
                  /*server_failed=*/false);
    return;
  }
  absl::StatusOr<LaunchedProcess> launched =
      ctx_->launcher.Launch(LaunchSpec{spec->command, spec->args, spec->env});
  if (!launched.ok()) {
    OnStartFailed(
        StrCat("cannot start MCP server '", server_, "': ", MessageOf(launched.status())));
    return;
  }
  pid_ = launched->pid;
  ++starts_;
  secrets_.clear();
  for (const auto& [key, value] : spec->env) {
    if (value.size() >= 4) secrets_.push_back(value);  // shorter ones would mask everything
  }
  const RunnerOptions& options = ctx_->options;
  ProcessContext* ctx = ctx_;
  auto child = std::make_shared<StdioChild>(
      ctx_->io, server_, std::move(*launched), static_cast<size_t>(options.max_line_bytes),
      std::chrono::milliseconds(options.stop_grace_ms),
      StdioChild::Callbacks{[this](StdioChild* c, std::string_view line) { HandleLine(c, line); },
                            [this, ctx](StdioChild* c, int wait_status) {
                              auto node = ctx->children.extract(
                                  c);  // keeps the child alive during this call
                              HandleExit(c, wait_status);
                              if (ctx->on_child_reaped) ctx->on_child_reaped();
                            },
                            [this](std::string_view line) { return KeepStderr(line); }});
  ctx_->children.emplace(child.get(), child);
  child_ = child;
  child->Start();
  log::Info("started MCP server", {{"server", server_},
                                   {"pid", static_cast<int64_t>(pid_)},
                                   {"command", spec->command},
                                   {"args", static_cast<int64_t>(spec->args.size())}});

  uint64_t init_id = pending_.Add(Pending{});
  child->Write(jsonrpc::MakeRequest(
      std::to_string(init_id), "initialize",
      StrCat(R"({"protocolVersion":")", kProtocolVersion,
             R"(","capabilities":{"sampling":{},"elicitation":{},"roots":{}},)"
             R"("clientInfo":{"name":"switchboard-runner","version":)",
             jsonrpc::EncodeString(options.client_version), "}}")));
  init_timer_.expires_after(std::chrono::milliseconds(options.init_timeout_ms));
  init_timer_.async_wait([this, c = child.get()](const boost::system::error_code& ec) {
    if (ec || state_ != State::kStarting || child_.get() != c) return;
    OnStartFailed(StrCat("MCP server '", server_, "' did not answer initialize within ",
                         ctx_->options.init_timeout_ms, " ms"));
  });
}

void SharedProcess::OnStartFailed(const std::string& reason, bool server_failed) {
  state_ = State::kIdle;
  init_timer_.cancel();
  if (child_) {
    child_->Kill();
    child_.reset();  // its exit is still reaped through ctx_->children
  }
  pid_ = 0;
  if (server_failed) RecordFailure(reason);
  log::Warn("MCP server failed to start", {{"server", server_}, {"error", reason}});
  FailInFlight(reason);

  std::vector<std::shared_ptr<AttachmentSink>> closing;
  for (auto it = clients_.begin(); it != clients_.end();) {
    if (it->second.opened) {
      ++it;
      continue;
    }
    closing.push_back(std::move(it->second.sink));
    it = clients_.erase(it);
  }
  std::deque<std::pair<uint64_t, std::string>> queued = std::move(queued_);
  queued_.clear();
  for (auto& [id, message] : queued) {
    if (auto it = clients_.find(id); it != clients_.end()) Reject(it->second, message, reason);
  }
  for (auto& sink : closing) sink->OnClosed(absl::UnavailableError(reason));
}

void SharedProcess::RecordFailure(const std::string& reason) {
  const RunnerOptions& o = ctx_->options;
  int64_t delay_ms = 0;
  if (consecutive_failures_ > 0) {
    delay_ms = o.restart_backoff_initial_ms;
    for (int i = 1; i < consecutive_failures_ && delay_ms < o.restart_backoff_max_ms; ++i) {
      delay_ms *= 2;
    }
    delay_ms = std::min(delay_ms, o.restart_backoff_max_ms);
  }
  ++consecutive_failures_;
  last_failure_ = reason;
  retry_at_ = Clock::now() + std::chrono::milliseconds(delay_ms);
}

absl::Status SharedProcess::CheckBackoff() const {
  Clock::time_point now = Clock::now();
  if (now >= retry_at_) return absl::OkStatus();
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(retry_at_ - now).count() + 1;
  return absl::UnavailableError(StrCat(last_failure_, "; MCP server '", server_,
                                       "' will be restarted on use in ", wait,
                                       " ms at the earliest"));
}

void SharedProcess::FailInFlight(const std::string& reason) {
  server_requests_.Drain([](uint64_t, ServerRequest&) {});  // asked by a process now gone
  pending_.Drain([&](uint64_t, Pending& p) {
    if (p.attachment == 0) return;
    auto it = clients_.find(p.attachment);
    if (it == clients_.end()) return;
    it->second.inflight.erase(p.client_id);
    it->second.sink->OnMessage(
        jsonrpc::MakeError(p.client_id, jsonrpc::kUpstreamUnavailable, reason));
  });
}

void SharedProcess::OpenClient(Client& client) {
  client.opened = true;
  client.sink->OnOpened(init_result_, pid_);
}

void SharedProcess::Forward(uint64_t attachment, Client& client, std::string text) {
  Envelope env;
  jsonrpc::ScanError err;
  if (!jsonrpc::Scan(text, &env, &err)) {
    client.sink->OnMessage(jsonrpc::MakeError(err.raw_id, err.code, err.message));
    return;
  }
  // Raw newlines can only be whitespace between tokens of valid JSON; they would break the
  // line framing, and blanks take the same bytes, so the spans stay right.
  std::replace_if(
      text.begin(), text.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  switch (env.kind) {
    case jsonrpc::Kind::kRequest:
      ForwardRequest(attachment, client, text, env);
      return;
    case jsonrpc::Kind::kNotification:
      ForwardNotification(client, std::move(text), env);
      return;
    case jsonrpc::Kind::kResponse:
      ForwardResponse(attachment, text, env);
      return;
  }
}

void SharedProcess::ForwardRequest(uint64_t attachment, Client& client, const std::string& text,
                                   const Envelope& env) {
  std::string client_id(env.id.In(text));
  if (env.method == "initialize") {
    // The process is initialized once; a caller asking again gets the same answer.
    client.sink->OnMessage(jsonrpc::MakeResult(client_id, init_result_));
    return;
  }
  std::optional<Span> token = jsonrpc::FindProgressToken(text, env.params);
  uint64_t runner_id = pending_.Add(
      Pending{attachment, client_id, token ? std::string(token->In(text)) : std::string()});
  std::string id_text = std::to_string(runner_id);
  // The runner id doubles as the progress token: unique on this process, and it names the
  // caller when the server reports progress.
  std::string out =
      token ? jsonrpc::Replace(text, {{env.id, id_text}, {*token, id_text}})
            : jsonrpc::Replace(text, env.id, id_text);
  client.inflight[client_id] = runner_id;
  if (!child_ || !child_->Write(std::move(out))) {
    pending_.Take(runner_id);
    client.inflight.erase(client_id);
    client.sink->OnMessage(
        jsonrpc::MakeError(client_id, jsonrpc::kUpstreamUnavailable,
                           StrCat("MCP server '", server_, "' is not reading its input")));
  }
}

void SharedProcess::ForwardNotification(Client& client, std::string text, const Envelope& env) {
  if (env.method == "notifications/initialized") return;  // the runner sent it already
  if (env.method == "notifications/cancelled") {
    std::optional<Span> request_id =
        env.params.empty() ? std::nullopt : jsonrpc::FindMember(text, env.params, "requestId");
    if (!request_id) return;
    auto it = client.inflight.find(std::string(request_id->In(text)));
    if (it == client.inflight.end()) return;  // answered already, or never sent
    uint64_t runner_id = it->second;
    client.inflight.erase(it);
    pending_.Take(runner_id);  // a cancelled request gets no response
    if (child_) child_->Write(jsonrpc::Replace(text, *request_id, std::to_string(runner_id)));
    return;
  }
  if (child_) child_->Write(std::move(text));
}

void SharedProcess::Reject(Client& client, std::string_view text, std::string_view reason) {
  Envelope env;
  jsonrpc::ScanError err;
  if (!jsonrpc::Scan(text, &env, &err)) {
    client.sink->OnMessage(jsonrpc::MakeError(err.raw_id, err.code, err.message));
    return;
  }
  if (env.kind != jsonrpc::Kind::kRequest) return;
  client.sink->OnMessage(
      jsonrpc::MakeError(env.id.In(text), jsonrpc::kUpstreamUnavailable, reason));
}

void SharedProcess::HandleLine(StdioChild* child, std::string_view line) {
  if (child != child_.get()) return;  // a process already given up on
  Envelope env;
  jsonrpc::ScanError err;
  if (!jsonrpc::Scan(line, &env, &err)) {
    if (garbage_limit_.Allow(Clock::now())) {
      log::Warn("dropped a stdout line that is not JSON-RPC",
                {{"server", server_},
                 {"pid", static_cast<int64_t>(pid_)},
                 {"bytes", static_cast<uint64_t>(line.size())},
                 {"code", err.code},
                 {"dropped_before", garbage_limit_.TakeSuppressed()}});
    }
    return;
  }
  switch (env.kind) {
    case jsonrpc::Kind::kResponse:
      HandleResponse(line, env);
      return;
    case jsonrpc::Kind::kRequest:
      HandleServerRequest(line, env);
      return;
    case jsonrpc::Kind::kNotification:
      HandleServerNotification(line, env);
      return;
  }
}

void SharedProcess::HandleResponse(std::string_view line, const Envelope& env) {
  std::optional<uint64_t> runner_id = jsonrpc::ParseUintId(env.id.In(line));
  std::optional<Pending> pending = runner_id ? pending_.Take(*runner_id) : std::nullopt;
  if (!pending) {
    log::Debug("dropped a response nobody waits for", {{"server", server_}});
    return;
  }
  if (pending->attachment == 0) {
    HandleInitializeResponse(line, env);
    return;
  }
  auto it = clients_.find(pending->attachment);
  if (it == clients_.end()) return;
  Client& client = it->second;
  if (auto f = client.inflight.find(pending->client_id);
      f != client.inflight.end() && f->second == *runner_id) {
    client.inflight.erase(f);
  }
  client.sink->OnMessage(jsonrpc::Replace(line, env.id, pending->client_id));
}

void SharedProcess::HandleInitializeResponse(std::string_view line, const Envelope& env) {
  if (state_ != State::kStarting) return;
  init_timer_.cancel();
  if (!env.error.empty()) {
    std::string reason = "no reason given";
    if (std::optional<Span> m = jsonrpc::FindMember(line, env.error, "message")) {
      if (std::optional<std::string> text = jsonrpc::DecodeString(m->In(line))) reason = *text;
    }
    OnStartFailed(StrCat("MCP server '", server_, "' refused initialize: ", reason));
    return;
  }
  init_result_.assign(env.result.In(line));
  state_ = State::kReady;
  started_at_ = Clock::now();
  child_->Write(jsonrpc::MakeNotification("notifications/initialized", ""));
  log::Info("MCP server ready", {{"server", server_}, {"pid", static_cast<int64_t>(pid_)}});
  for (auto& [id, client] : clients_) {
    if (!client.opened) OpenClient(client);
  }
  std::deque<std::pair<uint64_t, std::string>> queued = std::move(queued_);
  queued_.clear();
  for (auto& [id, message] : queued) {
    auto it = clients_.find(id);
    if (it == clients_.end()) continue;
    if (state_ == State::kReady) {
      Forward(id, it->second, std::move(message));
    } else {
      Reject(it->second, message, last_failure_);
    }
  }
}

void SharedProcess::HandleServerRequest(std::string_view line, const Envelope& env) {
  std::string_view id = env.id.In(line);
  if (env.method == "ping") {
    child_->Write(jsonrpc::MakeResult(id, "{}"));
    return;
  }
  // A server asks its client (sampling, elicitation, roots) while serving a request: the only
  // attachment with requests in flight is the one it can be asking. With several, the runner
  // cannot tell, and says so rather than guess.
  uint64_t target = 0;
  int candidates = 0;
  for (const auto& [attachment, client] : clients_) {
    if (client.opened && !client.inflight.empty()) {
      target = attachment;
      ++candidates;
    }
  }
  if (candidates != 1) {
    child_->Write(jsonrpc::MakeError(
        id, jsonrpc::kMethodNotFound,
        candidates == 0 ? StrCat(env.method, ": no client request is in flight to relay it to")
                        : StrCat(env.method, ": the gateway cannot tell which client to ask")));
    return;
  }
  uint64_t relay_id = server_requests_.Add(ServerRequest{target, std::string(id)});
  clients_[target].sink->OnMessage(jsonrpc::Replace(line, env.id, std::to_string(relay_id)));
}

void SharedProcess::ForwardResponse(uint64_t attachment, std::string_view text,
                                    const Envelope& env) {
  std::optional<uint64_t> relay_id = jsonrpc::ParseUintId(env.id.In(text));
  const ServerRequest* request = relay_id ? server_requests_.Find(*relay_id) : nullptr;
  if (request == nullptr || request->attachment != attachment) {
    log::Debug("dropped a response nobody asked for", {{"server", server_}});
    return;
  }
  std::optional<ServerRequest> taken = server_requests_.Take(*relay_id);
  if (child_) child_->Write(jsonrpc::Replace(text, env.id, taken->server_id));
}

void SharedProcess::HandleServerNotification(std::string_view line, const Envelope& env) {
  if (env.method == "notifications/progress") {
    // Progress belongs to the caller whose request carried the token.
    std::optional<Span> token =
        env.params.empty() ? std::nullopt : jsonrpc::FindMember(line, env.params, "progressToken");
    std::optional<uint64_t> runner_id =
        token ? jsonrpc::ParseUintId(token->In(line)) : std::nullopt;
    const Pending* pending = runner_id ? pending_.Find(*runner_id) : nullptr;
    if (pending == nullptr || pending->attachment == 0 || pending->progress_token.empty()) return;
    auto it = clients_.find(pending->attachment);
    if (it == clients_.end()) return;
    it->second.sink->OnMessage(jsonrpc::Replace(line, *token, pending->progress_token));
    return;
  }
  // About a server→client request the runner has answered itself.
  if (env.method == "notifications/cancelled") return;
  for (auto& [id, client] : clients_) {
    if (client.opened) client.sink->OnMessage(std::string(line));
  }
}

void SharedProcess::HandleExit(StdioChild* child, int wait_status) {
  std::string how = DescribeWaitStatus(wait_status);
  if (child != child_.get()) {
    log::Debug("reaped an abandoned MCP server process",
               {{"server", server_}, {"pid", static_cast<int64_t>(child->pid())}, {"how", how}});
    return;
  }
  child_.reset();
  log::Warn("MCP server exited",
            {{"server", server_}, {"pid", static_cast<int64_t>(pid_)}, {"how", how}});
  if (state_ == State::kStarting) {
    OnStartFailed(StrCat("MCP server '", server_, "' exited during initialization (", how, ")"));
    return;
  }
  std::string reason = StrCat("MCP server '", server_, "' exited (", how, ")");
  if (Clock::now() - started_at_ >= std::chrono::milliseconds(ctx_->options.healthy_uptime_ms)) {
    consecutive_failures_ = 0;
  }
  state_ = State::kIdle;
  pid_ = 0;
  if (std::exchange(restarting_, false)) {
    reason = StrCat("MCP server '", server_, "' was restarted by an operator");
  } else {
    RecordFailure(reason);
  }
  FailInFlight(reason);
}

bool SharedProcess::Restart() {
  if (!child_ || state_ == State::kIdle) return false;
  restarting_ = true;
  log::Info("restarting MCP server", {{"server", server_}, {"pid", static_cast<int64_t>(pid_)}});
  child_->Stop(std::chrono::milliseconds(ctx_->options.stop_grace_ms));
  return true;
}

ProcessStatus SharedProcess::Describe() const {
  ProcessStatus s;
  s.server = server_;
  s.pid = pid_;
  switch (state_) {
    case State::kIdle:
      s.state = Clock::now() < retry_at_ ? "backoff" : "idle";
      break;
    case State::kStarting:
      s.state = "starting";
      break;
    case State::kReady:
      s.state = "ready";
      break;
  }
  if (pid_ > 0) {
    s.uptime_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started_at_)
                      .count();
    // Resident pages are the second field of /proc/<pid>/statm.
    std::ifstream statm(StrCat("/proc/", pid_, "/statm"));
    int64_t size = 0, resident = 0;
    if (statm >> size >> resident) s.rss_bytes = resident * ::sysconf(_SC_PAGESIZE);
  }
  s.attachments = static_cast<int64_t>(clients_.size());
  pending_.ForEach([&](uint64_t, const Pending& p) {
    if (p.attachment != 0) ++s.in_flight;
  });
  s.restarts = std::max<int64_t>(0, starts_ - 1);
  s.last_failure = last_failure_;
  return s;
}

std::string SharedProcess::KeepStderr(std::string_view line) {
  std::string masked(line);
  for (const std::string& secret : secrets_) {
    for (size_t at = masked.find(secret); at != std::string::npos;
         at = masked.find(secret, at + 3)) {
      masked.replace(at, secret.size(), "***");
    }
  }
  constexpr size_t kTailBytes = 64 * 1024;
  stderr_tail_bytes_ += masked.size();
  stderr_tail_.push_back(masked);
  while (stderr_tail_bytes_ > kTailBytes && !stderr_tail_.empty()) {
    stderr_tail_bytes_ -= stderr_tail_.front().size();
    stderr_tail_.pop_front();
  }
  return masked;
}

std::vector<std::string> SharedProcess::StderrTail(size_t max_lines) const {
  size_t skip = stderr_tail_.size() > max_lines ? stderr_tail_.size() - max_lines : 0;
  return std::vector<std::string>(stderr_tail_.begin() + static_cast<std::ptrdiff_t>(skip),
                                  stderr_tail_.end());
}

}  // namespace switchboard::runner
