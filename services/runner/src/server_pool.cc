#include "services/runner/src/server_pool.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <random>
#include <utility>
#include <vector>

#include "switchboard/common/log.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"

namespace switchboard::runner {
namespace {

using jsonrpc::Envelope;
using jsonrpc::Span;

constexpr std::string_view kProtocolVersion = "2025-06-18";
// The server's queue is full: try again later.
constexpr int kServerBusy = -32003;
constexpr size_t kMaxSessionsShown = 100;
constexpr int64_t kKeyedMaxProcesses = 100;
constexpr size_t kDefaultQueueSize = 1000;
constexpr int64_t kDefaultQueueTimeoutMs = 30000;

int64_t Ms(std::chrono::steady_clock::duration d) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(d).count();
}

}  // namespace

ServerPool::ServerPool(ProcessContext* ctx, ServerSpec spec)
    : ctx_(ctx), spec_(std::move(spec)), tick_(ctx->io) {}

ServerPool::~ServerPool() { *alive_ = false; }

void ServerPool::UpdateSpec(ServerSpec spec) { spec_ = std::move(spec); }

bool ServerPool::RunsOutdatedSpec(const ServerSpec& spec) const {
  if (LiveWorkers() == 0) return false;
  const ServerSpec& a = launched_spec_;
  const ResourceLimits& la = a.pool.limits;
  const ResourceLimits& lb = spec.pool.limits;
  return a.command != spec.command || a.args != spec.args || a.env != spec.env ||
         a.pool.cwd != spec.pool.cwd || la.address_space_bytes != lb.address_space_bytes ||
         la.cpu_seconds != lb.cpu_seconds || la.open_files != lb.open_files ||
         la.processes != lb.processes;
}

// --- settings ---

ServerPool::Isolation ServerPool::isolation() const {
  if (spec_.pool.isolation == "per-user") return Isolation::kPerUser;
  if (spec_.pool.isolation == "per-session") return Isolation::kPerSession;
  return Isolation::kShared;
}

std::string ServerPool::KeyFor(const RouteContext& ctx) const {
  switch (isolation()) {
    case Isolation::kPerUser:
      return ctx.user;
    case Isolation::kPerSession:
      return ctx.session;
    case Isolation::kShared:
      break;
  }
  return "";
}

int64_t ServerPool::MaxProcesses() const {
  if (spec_.pool.max_processes > 0) return spec_.pool.max_processes;
  return isolation() == Isolation::kShared ? 1 : kKeyedMaxProcesses;
}

int64_t ServerPool::MaxPerKey() const {
  return isolation() == Isolation::kShared ? MaxProcesses() : 1;
}

int64_t ServerPool::MaxInFlight() const { return spec_.pool.max_in_flight; }

size_t ServerPool::QueueSize() const {
  return spec_.pool.queue_size > 0 ? static_cast<size_t>(spec_.pool.queue_size) : kDefaultQueueSize;
}

int64_t ServerPool::QueueTimeoutMs() const {
  return spec_.pool.queue_timeout_ms > 0 ? spec_.pool.queue_timeout_ms : kDefaultQueueTimeoutMs;
}

int64_t ServerPool::IdleTimeoutMs() const {
  return spec_.pool.idle_timeout_ms > 0 ? spec_.pool.idle_timeout_ms
                                        : ctx_->options.idle_timeout_ms;
}

int64_t ServerPool::RequestTimeoutMs() const { return spec_.pool.request_timeout_ms; }

// --- attachments ---

void ServerPool::Attach(uint64_t attachment, std::shared_ptr<AttachmentSink> sink,
                        const RouteContext& context) {
  Client& client = clients_[attachment];
  client.sink = std::move(sink);
  client.context = context;
  const std::string key = KeyFor(context);
  // Any initialized process tells what the server is; a keyed one for this caller starts on
  // its first request.
  for (auto& [id, w] : workers_) {
    if (w->state == WorkerState::kReady || w->state == WorkerState::kDraining) {
      client.opened = true;
      client.sink->OnOpened(init_result_, w->pid);
      return;
    }
  }
  if (AnyStarting()) return;  // opened with the others once initialize has been answered
  if (draining_) return;      // opened by the fresh process after the drain
  absl::Status started = EnsureCapacity(key);
  if (!started.ok()) {
    std::shared_ptr<AttachmentSink> closing = std::move(client.sink);
    clients_.erase(attachment);
    closing->OnClosed(absl::UnavailableError(std::string(MessageOf(started))));
  }
}

void ServerPool::Send(uint64_t attachment, std::string message, const RouteContext* route) {
  auto it = clients_.find(attachment);
  if (it == clients_.end()) return;
  Client& client = it->second;
  Envelope env;
  jsonrpc::ScanError err;
  if (!jsonrpc::Scan(message, &env, &err)) {
    client.sink->OnMessage(jsonrpc::MakeError(err.raw_id, err.code, err.message));
    return;
  }
  // Raw newlines can only be whitespace between tokens of valid JSON; they would break the
  // line framing, and blanks take the same bytes, so the spans stay right.
  std::replace_if(
      message.begin(), message.end(), [](char c) { return c == '\n' || c == '\r'; }, ' ');
  Dispatch(attachment, client, std::move(message), env, route ? *route : client.context);
}

void ServerPool::Dispatch(uint64_t attachment, Client& client, std::string text,
                          const Envelope& env, const RouteContext& route) {
  const std::string key = KeyFor(route);
  switch (env.kind) {
    case jsonrpc::Kind::kRequest: {
      std::string client_id(env.id.In(text));
      if (env.method == "initialize" && !init_result_.empty()) {
        // A process is initialized once; a caller asking again gets the same answer.
        client.sink->OnMessage(jsonrpc::MakeResult(client_id, init_result_));
        return;
      }
      Queued q;
      q.attachment = attachment;
      q.text = std::move(text);
      q.env = env;
      q.key = key;
      q.session = route.session;
      q.deadline = Clock::now() + std::chrono::milliseconds(QueueTimeoutMs());
      Submit(std::move(q));
      return;
    }
    case jsonrpc::Kind::kNotification:
      ForwardNotification(attachment, client, std::move(text), env, key);
      return;
    case jsonrpc::Kind::kResponse:
      ForwardResponse(attachment, text, env);
      return;
  }
}

void ServerPool::Submit(Queued q) {
  Client& client = clients_[q.attachment];
  if (Worker* w = PickWorker(q.key)) {
    SendToWorker(*w, q, client);
    return;
  }
  absl::Status capacity = EnsureCapacity(q.key);
  if (!capacity.ok()) {
    Reject(client, q, MessageOf(capacity));
    return;
  }
  if (queue_.size() >= QueueSize()) {
    int64_t live = LiveWorkers();
    Reject(
        client, q,
        StrCat(
            "MCP server '", spec_.name, "' is busy: its queue is full (queueSize=", QueueSize(),
            ", ", live, " of maxProcesses=", MaxProcesses(), " processes running",
            MaxInFlight() > 0 ? StrCat(", maxInFlightPerProcess=", MaxInFlight()) : std::string(),
            "); try again later"),
        kServerBusy);
    return;
  }
  client.inflight[std::string(q.env.id.In(q.text))] = Route{};
  queue_.push_back(std::move(q));
  ArmTick();
}

ServerPool::Worker* ServerPool::PickWorker(const std::string& key) {
  Worker* best = nullptr;
  const int64_t cap = MaxInFlight();
  for (auto& [id, w] : workers_) {
    if (w->state != WorkerState::kReady || w->key != key) continue;
    if (cap > 0 && w->InFlight() >= cap) continue;
    if (best == nullptr || w->InFlight() < best->InFlight()) best = w.get();
  }
  return best;
}

int64_t ServerPool::LiveWorkers(const std::string& key) const {
  int64_t n = 0;
  for (const auto& [id, w] : workers_) {
    if (w->key == key && (w->state == WorkerState::kStarting || w->state == WorkerState::kReady)) {
      ++n;
    }
  }
  return n;
}

int64_t ServerPool::LiveWorkers() const {
  int64_t n = 0;
  for (const auto& [id, w] : workers_) {
    if (w->state == WorkerState::kStarting || w->state == WorkerState::kReady) ++n;
  }
  return n;
}

bool ServerPool::AnyStarting() const {
  for (const auto& [id, w] : workers_) {
    if (w->state == WorkerState::kStarting) return true;
  }
  return false;
}

absl::Status ServerPool::EnsureCapacity(const std::string& key) {
  if (draining_) return absl::OkStatus();  // a fresh process starts once the drain is over
  const int64_t live_for_key = LiveWorkers(key);
  bool starting_for_key = false;
  for (const auto& [id, w] : workers_) {
    starting_for_key = starting_for_key || (w->key == key && w->state == WorkerState::kStarting);
  }
  if (starting_for_key) return absl::OkStatus();             // its answer serves the queue
  if (live_for_key >= MaxPerKey()) return absl::OkStatus();  // wait for room
  // Would another process of this key help? Only when every one of them is full.
  if (live_for_key > 0) {
    const int64_t cap = MaxInFlight();
    if (cap == 0) return absl::OkStatus();
    bool room = false;
    for (const auto& [id, w] : workers_) {
      room = room || (w->key == key && w->state == WorkerState::kReady && w->InFlight() < cap);
    }
    if (room) return absl::OkStatus();
  }
  if (LiveWorkers() >= MaxProcesses()) {
    if (live_for_key > 0) return absl::OkStatus();
    return absl::ResourceExhaustedError(StrCat("MCP server '", spec_.name,
                                               "' already runs its maxProcesses=", MaxProcesses(),
                                               " ", spec_.pool.isolation,
                                               " processes; raise maxProcesses or wait for idle "
                                               "ones to stop"));
  }
  absl::Status allowed = CheckStartAllowed();
  if (!allowed.ok()) return live_for_key > 0 ? absl::OkStatus() : allowed;
  absl::Status started = StartWorker(key);
  if (!started.ok() && live_for_key > 0) return absl::OkStatus();
  return started;
}

bool ServerPool::BreakerOpen() const {
  return ctx_->options.breaker_failures > 0 &&
         consecutive_failures_ >= ctx_->options.breaker_failures;
}

absl::Status ServerPool::CheckStartAllowed() const {
  Clock::time_point now = Clock::now();
  const bool breaker = BreakerOpen();
  if (now < retry_at_) {
    int64_t wait = Ms(retry_at_ - now) + 1;
    if (breaker) {
      return absl::UnavailableError(StrCat("the circuit breaker of MCP server '", spec_.name,
                                           "' is open after ", consecutive_failures_,
                                           " failures in a row (last: ", last_failure_,
                                           "); the next start is tried in ", wait, " ms"));
    }
    return absl::UnavailableError(StrCat(last_failure_, "; MCP server '", spec_.name,
                                         "' will be restarted on use in ", wait,
                                         " ms at the earliest"));
  }
  if (breaker && AnyStarting()) {
    // Half-open: one start at a time decides whether the breaker closes.
    return absl::UnavailableError(StrCat("the circuit breaker of MCP server '", spec_.name,
                                         "' is half-open: a trial start is under way"));
  }
  return absl::OkStatus();
}

absl::Status ServerPool::StartWorker(const std::string& key) {
  if (ctx_->shutting_down) return absl::UnavailableError("the runner is shutting down");
  absl::StatusOr<ServerSpec> spec = ctx_->catalog.Find(spec_.name);
  if (!spec.ok()) {
    return absl::UnavailableError(
        StrCat("cannot start MCP server '", spec_.name, "': ", MessageOf(spec.status())));
  }
  if (spec->type != "STDIO") {
    return absl::UnavailableError(
        StrCat("MCP server '", spec_.name, "' is no longer a STDIO server"));
  }
  spec_ = *spec;
  const int64_t cap = ctx_->options.max_processes;
  if (cap > 0 && ctx_->children.size() >= static_cast<size_t>(cap)) {
    // Not the server's fault: no backoff, the next use tries again.
    return absl::ResourceExhaustedError(
        StrCat("cannot start MCP server '", spec_.name, "': the runner's process cap (",
               "max_processes=", cap, ") is reached; raise it or add runners"));
  }
  const int64_t slots = ctx_->options.max_concurrent_starts;
  if (slots > 0 && ctx_->starting >= slots) {
    // Waits for a slot; the queue (and attachments not opened yet) wait with it.
    if (!waiting_for_slot_) {
      waiting_for_slot_ = true;
      ctx_->start_waiters.push_back(spec_.name);
    }
    return absl::OkStatus();
  }
  launched_spec_ = spec_;
  LaunchSpec launch{spec_.command, spec_.args, spec_.env, spec_.pool.cwd, spec_.pool.limits};
  absl::StatusOr<LaunchedProcess> launched = ctx_->launcher.Launch(launch);
  if (!launched.ok()) {
    std::string reason =
        StrCat("cannot start MCP server '", spec_.name, "': ", MessageOf(launched.status()));
    RecordFailure(reason);
    log::Warn("MCP server failed to start", {{"server", spec_.name}, {"error", reason}});
    return absl::UnavailableError(reason);
  }
  auto worker = std::make_unique<Worker>();
  Worker& w = *worker;
  w.id = next_worker_++;
  w.key = key;
  w.pid = launched->pid;
  w.launched_at = Clock::now();
  w.last_active = w.launched_at;
  w.holds_start_slot = true;
  ++ctx_->starting;
  ++starts_;
  for (const auto& [k, value] : spec_.env) {
    if (value.size() >= 4) w.secrets.push_back(value);  // shorter ones would mask everything
  }
  const uint64_t wid = w.id;
  ProcessContext* ctx = ctx_;
  std::weak_ptr<bool> alive = alive_;
  auto child = std::make_shared<StdioChild>(
      ctx_->io, spec_.name, std::move(*launched), static_cast<size_t>(ctx_->options.max_line_bytes),
      std::chrono::milliseconds(ctx_->options.stop_grace_ms),
      StdioChild::Callbacks{[this, wid, alive](StdioChild*, std::string_view line) {
                              if (!alive.expired()) HandleLine(wid, line);
                            },
                            [this, wid, ctx, alive](StdioChild* c, int wait_status) {
                              auto node = ctx->children.extract(
                                  c);  // keeps the child alive during this call
                              if (!alive.expired()) HandleExit(wid, c, wait_status);
                              if (ctx->on_child_reaped) ctx->on_child_reaped();
                            },
                            [this, alive, secrets = w.secrets](std::string_view line) {
                              if (alive.expired()) return std::string(line);
                              return KeepStderr(secrets, line);
                            }});
  ctx_->children.emplace(child.get(), child);
  w.child = child;
  workers_.emplace(wid, std::move(worker));
  child->Start();
  log::Info(
      "started MCP server",
      {{"server", spec_.name},
       {"pid", static_cast<int64_t>(w.pid)},
       {"command", spec_.command},
       {"isolation", spec_.pool.isolation.empty() ? std::string("shared") : spec_.pool.isolation},
       {"args", static_cast<int64_t>(spec_.args.size())}});
  uint64_t init_id = w.pending.Add(Pending{});
  child->Write(
      jsonrpc::MakeRequest(std::to_string(init_id), "initialize",
                           StrCat(R"({"protocolVersion":")", kProtocolVersion,
                                  R"(","capabilities":{"sampling":{},"elicitation":{},"roots":{}},)"
                                  R"("clientInfo":{"name":"switchboard-runner","version":)",
                                  jsonrpc::EncodeString(ctx_->options.client_version), "}}")));
  ArmTick();
  return absl::OkStatus();
}

void ServerPool::ReleaseStartSlot(Worker& worker) {
  if (!worker.holds_start_slot) return;
  worker.holds_start_slot = false;
  --ctx_->starting;
  if (ctx_->on_start_slot_free) {
    // Later: this pool's own bookkeeping is not done yet.
    boost::asio::post(ctx_->io, [ctx = ctx_] {
      if (ctx->on_start_slot_free) ctx->on_start_slot_free();
    });
  }
}

void ServerPool::OnStartSlotFree() {
  waiting_for_slot_ = false;
  Pump();
  EnsureMin();
  OpenWaitingClients();
}

void ServerPool::OpenWaitingClients() {
  if (draining_ || waiting_for_slot_ || LiveWorkers() > 0) return;
  const Client* waiting = nullptr;
  for (const auto& [id, c] : clients_) {
    if (!c.opened) {
      waiting = &c;
      break;
    }
  }
  if (waiting == nullptr) return;
  absl::Status s = EnsureCapacity(KeyFor(waiting->context));
  if (!s.ok()) FailWaiting("", true, std::string(MessageOf(s)), jsonrpc::kUpstreamUnavailable);
}

void ServerPool::EnsureMin() {
  if (isolation() != Isolation::kShared || draining_ || ctx_->shutting_down) return;
  const int64_t min = std::min<int64_t>(spec_.pool.min_processes, MaxProcesses());
  while (LiveWorkers("") < min && !waiting_for_slot_) {
    if (!CheckStartAllowed().ok()) return;
    const size_t before = workers_.size();
    if (!StartWorker("").ok() || workers_.size() == before) return;
  }
}

void ServerPool::RecordFailure(const std::string& reason) {
  const RunnerOptions& o = ctx_->options;
  int64_t delay_ms = 0;
  if (consecutive_failures_ > 0) {
    delay_ms = o.restart_backoff_initial_ms;
    for (int i = 1; i < consecutive_failures_ && delay_ms < o.restart_backoff_max_ms; ++i) {
      delay_ms *= 2;
    }
    delay_ms = std::min(delay_ms, o.restart_backoff_max_ms);
    // Jitter so servers that failed together do not retry together.
    thread_local std::minstd_rand rng{std::random_device{}()};
    const int64_t jitter = delay_ms * o.restart_jitter_percent / 100;
    if (jitter > 0) delay_ms += static_cast<int64_t>(rng() % static_cast<uint64_t>(jitter + 1));
  }
  ++consecutive_failures_;
  if (BreakerOpen()) {
    delay_ms = std::max(delay_ms, o.breaker_cooldown_ms);
    if (consecutive_failures_ == o.breaker_failures) {
      log::Warn("circuit breaker opened",
                {{"server", spec_.name},
                 {"failures", static_cast<int64_t>(consecutive_failures_)},
                 {"cooldown_ms", o.breaker_cooldown_ms}});
    }
  }
  last_failure_ = reason;
  retry_at_ = Clock::now() + std::chrono::milliseconds(delay_ms);
}

void ServerPool::OnStartFailed(Worker& worker, const std::string& reason, bool server_failed) {
  if (worker.child) {
    worker.child->Kill();
    worker.child.reset();  // its exit is still reaped through ctx_->children
  }
  if (server_failed) RecordFailure(reason);
  log::Warn("MCP server failed to start", {{"server", spec_.name}, {"error", reason}});
  const std::string key = worker.key;
  RemoveWorker(worker.id, reason);
  if (LiveWorkers(key) == 0) {
    FailWaiting(key, isolation() == Isolation::kShared, reason, jsonrpc::kUpstreamUnavailable);
  }
  Pump();
}

void ServerPool::FailWaiting(const std::string& key, bool all, const std::string& reason,
                             int code) {
  std::deque<Queued> keep;
  std::vector<Queued> failed;
  for (Queued& q : queue_) {
    if (all || q.key == key) {
      failed.push_back(std::move(q));
    } else {
      keep.push_back(std::move(q));
    }
  }
  queue_ = std::move(keep);
  for (Queued& q : failed) {
    auto it = clients_.find(q.attachment);
    if (it == clients_.end()) continue;
    it->second.inflight.erase(std::string(q.env.id.In(q.text)));
    Reject(it->second, q, reason, code);
  }
  if (LiveWorkers() > 0 || waiting_for_slot_) return;
  std::vector<std::shared_ptr<AttachmentSink>> closing;
  for (auto it = clients_.begin(); it != clients_.end();) {
    if (it->second.opened) {
      ++it;
      continue;
    }
    closing.push_back(std::move(it->second.sink));
    it = clients_.erase(it);
  }
  for (auto& sink : closing) sink->OnClosed(absl::UnavailableError(reason));
}

void ServerPool::RemoveWorker(uint64_t id, const std::string& reason) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return;
  std::unique_ptr<Worker> worker = std::move(it->second);
  workers_.erase(it);
  ReleaseStartSlot(*worker);
  server_requests_.EraseIf([id](const ServerRequest& r) { return r.worker == id; });
  worker->pending.Drain([&](uint64_t, Pending& p) {
    if (p.attachment == 0) return;
    auto c = clients_.find(p.attachment);
    if (c == clients_.end()) return;
    c->second.inflight.erase(p.client_id);
    c->second.sink->OnMessage(
        jsonrpc::MakeError(p.client_id, jsonrpc::kUpstreamUnavailable, reason));
  });
  MaybeEndDrain();
}

void ServerPool::Detach(uint64_t attachment) {
  auto it = clients_.find(attachment);
  if (it == clients_.end()) return;
  for (const auto& [client_id, route] : it->second.inflight) {
    if (route.worker == 0) continue;
    auto w = workers_.find(route.worker);
    if (w == workers_.end() || !w->second->pending.Take(route.runner_id)) continue;
    if (w->second->child) {
      w->second->child->Write(jsonrpc::MakeNotification(
          "notifications/cancelled",
          StrCat(R"({"requestId":)", route.runner_id, R"(,"reason":"the caller detached"})")));
    }
  }
  for (auto& [id, w] : workers_) {
    w->pending.EraseIf([attachment](const Pending& p) { return p.attachment == attachment; });
    w->attachments.erase(attachment);
  }
  server_requests_.EraseIf(
      [attachment](const ServerRequest& r) { return r.attachment == attachment; });
  std::erase_if(queue_, [attachment](const Queued& q) { return q.attachment == attachment; });
  clients_.erase(it);
  std::vector<uint64_t> ids;
  for (auto& [id, w] : workers_) ids.push_back(id);
  for (uint64_t id : ids) {
    if (auto w = workers_.find(id); w != workers_.end()) AfterRequest(*w->second);
  }
}

void ServerPool::Shutdown(const absl::Status& status) {
  std::map<uint64_t, Client> clients = std::move(clients_);
  clients_.clear();
  queue_.clear();
  for (auto& [id, w] : workers_) {
    if (w->holds_start_slot) {
      w->holds_start_slot = false;
      --ctx_->starting;
    }
  }
  workers_.clear();
  tick_.cancel();
  for (auto& [id, client] : clients) client.sink->OnClosed(status);
}

void ServerPool::StopWorker(Worker& worker, std::string reason) {
  if (worker.state == WorkerState::kStopping) return;
  worker.state = WorkerState::kStopping;
  worker.stop_reason = std::move(reason);
  ReleaseStartSlot(worker);
  if (worker.child) worker.child->Stop(std::chrono::milliseconds(ctx_->options.stop_grace_ms));
}

bool ServerPool::Restart() {
  bool any = false;
  for (auto& [id, w] : workers_) {
    if (!w->child || w->state == WorkerState::kStopping) continue;
    any = true;
    log::Info("restarting MCP server",
              {{"server", spec_.name}, {"pid", static_cast<int64_t>(w->pid)}});
    StopWorker(*w, StrCat("MCP server '", spec_.name, "' was restarted by an operator"));
  }
  return any;
}

int64_t ServerPool::Drain() {
  int64_t n = 0;
  std::vector<uint64_t> ids;
  for (auto& [id, w] : workers_) {
    if (w->state == WorkerState::kReady || w->state == WorkerState::kStarting) {
      w->state = w->state == WorkerState::kReady ? WorkerState::kDraining : w->state;
      ids.push_back(id);
      ++n;
    }
  }
  if (n == 0) return 0;
  draining_ = true;
  log::Info("draining MCP server", {{"server", spec_.name}, {"processes", n}});
  for (uint64_t id : ids) {
    auto it = workers_.find(id);
    if (it == workers_.end()) continue;
    Worker& w = *it->second;
    if (w.state == WorkerState::kStarting) {
      StopWorker(w, StrCat("MCP server '", spec_.name, "' was drained while starting"));
    } else {
      AfterRequest(w);
    }
  }
  return n;
}

void ServerPool::MaybeEndDrain() {
  if (!draining_) return;
  for (auto& [id, w] : workers_) {
    if (w->state == WorkerState::kDraining || w->state == WorkerState::kStopping) return;
  }
  draining_ = false;
  log::Info("MCP server drained", {{"server", spec_.name}});
  boost::asio::post(ctx_->io, [this, alive = std::weak_ptr<bool>(alive_)] {
    if (alive.expired()) return;
    Pump();
    EnsureMin();
    OpenWaitingClients();
  });
}

void ServerPool::AfterRequest(Worker& worker) {
  if (worker.state == WorkerState::kDraining && worker.InFlight() == 0) {
    StopWorker(worker, StrCat("MCP server '", spec_.name, "' was drained"));
    return;
  }
  if (!queue_.empty()) Pump();
}

void ServerPool::OpenClients(const Worker& worker) {
  for (auto& [id, client] : clients_) {
    if (client.opened) continue;
    client.opened = true;
    client.sink->OnOpened(init_result_, worker.pid);
  }
}

void ServerPool::SendToWorker(Worker& w, Queued& q, Client& client) {
  const std::string& text = q.text;
  const Envelope& env = q.env;
  std::string client_id(env.id.In(text));
  std::optional<Span> token = jsonrpc::FindProgressToken(text, env.params);
  Pending p{q.attachment, client_id, token ? std::string(token->In(text)) : std::string()};
  if (RequestTimeoutMs() > 0) {
    p.deadline = Clock::now() + std::chrono::milliseconds(RequestTimeoutMs());
  }
  uint64_t runner_id = w.pending.Add(std::move(p));
  std::string id_text = std::to_string(runner_id);
  // The runner id doubles as the progress token: unique on this process, and it names the
  // caller when the server reports progress.
  std::string out = token ? jsonrpc::Replace(text, {{env.id, id_text}, {*token, id_text}})
                          : jsonrpc::Replace(text, env.id, id_text);
  client.inflight[client_id] = Route{w.id, runner_id};
  w.attachments.insert(q.attachment);
  if (!q.session.empty() && w.sessions.size() < kMaxSessionsShown) w.sessions.insert(q.session);
  w.last_active = Clock::now();
  if (!w.child || !w.child->Write(std::move(out))) {
    w.pending.Take(runner_id);
    client.inflight.erase(client_id);
    client.sink->OnMessage(
        jsonrpc::MakeError(client_id, jsonrpc::kUpstreamUnavailable,
                           StrCat("MCP server '", spec_.name, "' is not reading its input")));
    return;
  }
  if (RequestTimeoutMs() > 0) ArmTick();
}

void ServerPool::Pump() {
  if (queue_.empty()) return;
  if (isolation() == Isolation::kShared) {
    // One key: the queue is served strictly in order, and stops at the first that must wait.
    while (!queue_.empty()) {
      auto c = clients_.find(queue_.front().attachment);
      if (c == clients_.end()) {
        queue_.pop_front();
        continue;
      }
      Worker* w = PickWorker(queue_.front().key);
      if (w == nullptr) break;
      Queued q = std::move(queue_.front());
      queue_.pop_front();
      SendToWorker(*w, q, c->second);
    }
    if (queue_.empty()) return;
    absl::Status s = EnsureCapacity("");
    if (!s.ok()) FailWaiting("", true, std::string(MessageOf(s)), jsonrpc::kUpstreamUnavailable);
    return;
  }
  std::deque<Queued> waiting = std::move(queue_);
  queue_.clear();
  std::set<std::string> blocked;  // keys with no room: later requests of theirs keep their turn
  for (Queued& q : waiting) {
    auto c = clients_.find(q.attachment);
    if (c == clients_.end()) continue;
    Worker* w = blocked.count(q.key) ? nullptr : PickWorker(q.key);
    if (w == nullptr) {
      blocked.insert(q.key);
      queue_.push_back(std::move(q));
      continue;
    }
    SendToWorker(*w, q, c->second);
  }
  for (const std::string& key : blocked) {
    absl::Status s = EnsureCapacity(key);
    if (!s.ok()) FailWaiting(key, false, std::string(MessageOf(s)), jsonrpc::kUpstreamUnavailable);
  }
}

void ServerPool::ForwardNotification(uint64_t attachment, Client& client, std::string text,
                                     const Envelope& env, const std::string& key) {
  if (env.method == "notifications/initialized") return;  // the runner sent it already
  if (env.method == "notifications/cancelled") {
    std::optional<Span> request_id =
        env.params.empty() ? std::nullopt : jsonrpc::FindMember(text, env.params, "requestId");
    if (!request_id) return;
    std::string client_id(request_id->In(text));
    auto it = client.inflight.find(client_id);
    if (it == client.inflight.end()) return;  // answered already, or never sent
    Route route = it->second;
    client.inflight.erase(it);
    if (route.worker == 0) {
      // Still queued: it never reaches a process. A cancelled request gets no response.
      std::erase_if(queue_, [&](const Queued& q) {
        return q.attachment == attachment && q.env.id.In(q.text) == client_id;
      });
      return;
    }
    auto w = workers_.find(route.worker);
    if (w == workers_.end()) return;
    w->second->pending.Take(route.runner_id);
    if (w->second->child) {
      w->second->child->Write(jsonrpc::Replace(text, *request_id, std::to_string(route.runner_id)));
    }
    AfterRequest(*w->second);
    return;
  }
  // Other notifications (roots/list_changed, …) go to the processes serving the caller's key.
  for (auto& [id, w] : workers_) {
    if (w->key == key && w->child &&
        (w->state == WorkerState::kReady || w->state == WorkerState::kDraining)) {
      w->child->Write(text);
    }
  }
}

void ServerPool::Reject(Client& client, const Queued& q, std::string_view reason, int code) {
  client.sink->OnMessage(jsonrpc::MakeError(q.env.id.In(q.text), code, reason));
}

// --- the processes' side ---

void ServerPool::HandleLine(uint64_t worker_id, std::string_view line) {
  auto it = workers_.find(worker_id);
  if (it == workers_.end() || !it->second->child) return;  // a process already given up on
  Worker& w = *it->second;
  Envelope env;
  jsonrpc::ScanError err;
  if (!jsonrpc::Scan(line, &env, &err)) {
    if (garbage_limit_.Allow(Clock::now())) {
      log::Warn("dropped a stdout line that is not JSON-RPC",
                {{"server", spec_.name},
                 {"pid", static_cast<int64_t>(w.pid)},
                 {"bytes", static_cast<uint64_t>(line.size())},
                 {"code", err.code},
                 {"dropped_before", garbage_limit_.TakeSuppressed()}});
    }
    return;
  }
  switch (env.kind) {
    case jsonrpc::Kind::kResponse:
      HandleResponse(w, line, env);
      return;
    case jsonrpc::Kind::kRequest:
      HandleServerRequest(w, line, env);
      return;
    case jsonrpc::Kind::kNotification:
      HandleServerNotification(w, line, env);
      return;
  }
}

void ServerPool::HandleResponse(Worker& w, std::string_view line, const Envelope& env) {
  std::optional<uint64_t> runner_id = jsonrpc::ParseUintId(env.id.In(line));
  std::optional<Pending> pending = runner_id ? w.pending.Take(*runner_id) : std::nullopt;
  if (!pending) {
    log::Debug("dropped a response nobody waits for", {{"server", spec_.name}});
    return;
  }
  if (pending->attachment == 0) {
    HandleInitializeResponse(w, line, env);
    return;
  }
  w.last_active = Clock::now();
  auto it = clients_.find(pending->attachment);
  if (it != clients_.end()) {
    Client& client = it->second;
    if (auto f = client.inflight.find(pending->client_id); f != client.inflight.end() &&
                                                           f->second.runner_id == *runner_id &&
                                                           f->second.worker == w.id) {
      client.inflight.erase(f);
    }
    client.sink->OnMessage(jsonrpc::Replace(line, env.id, pending->client_id));
  }
  AfterRequest(w);
}

void ServerPool::HandleInitializeResponse(Worker& w, std::string_view line, const Envelope& env) {
  if (w.state != WorkerState::kStarting) return;
  if (!env.error.empty()) {
    std::string reason = "no reason given";
    if (std::optional<Span> m = jsonrpc::FindMember(line, env.error, "message")) {
      if (std::optional<std::string> text = jsonrpc::DecodeString(m->In(line))) reason = *text;
    }
    OnStartFailed(w, StrCat("MCP server '", spec_.name, "' refused initialize: ", reason));
    return;
  }
  init_result_.assign(env.result.In(line));
  w.state = WorkerState::kReady;
  w.ready_at = Clock::now();
  w.last_active = w.ready_at;
  ReleaseStartSlot(w);
  if (BreakerOpen()) {
    log::Info("circuit breaker closed", {{"server", spec_.name}});
    consecutive_failures_ = 0;
    retry_at_ = {};
  }
  w.child->Write(jsonrpc::MakeNotification("notifications/initialized", ""));
  log::Info("MCP server ready", {{"server", spec_.name}, {"pid", static_cast<int64_t>(w.pid)}});
  OpenClients(w);
  Pump();
}

void ServerPool::HandleServerRequest(Worker& w, std::string_view line, const Envelope& env) {
  std::string_view id = env.id.In(line);
  if (env.method == "ping") {
    w.child->Write(jsonrpc::MakeResult(id, "{}"));
    return;
  }
  // A server asks its client (sampling, elicitation, roots) while serving a request: the only
  // attachment with requests in flight on this process is the one it can be asking. With
  // several, the runner cannot tell, and says so rather than guess.
  std::set<uint64_t> candidates;
  w.pending.ForEach([&](uint64_t, const Pending& p) {
    if (p.attachment != 0) candidates.insert(p.attachment);
  });
  if (candidates.size() != 1) {
    w.child->Write(jsonrpc::MakeError(
        id, jsonrpc::kMethodNotFound,
        candidates.empty() ? StrCat(env.method, ": no client request is in flight to relay it to")
                           : StrCat(env.method, ": the gateway cannot tell which client to ask")));
    return;
  }
  uint64_t target = *candidates.begin();
  auto c = clients_.find(target);
  if (c == clients_.end()) return;
  uint64_t relay_id = server_requests_.Add(ServerRequest{target, w.id, std::string(id)});
  c->second.sink->OnMessage(jsonrpc::Replace(line, env.id, std::to_string(relay_id)));
}

void ServerPool::ForwardResponse(uint64_t attachment, std::string_view text, const Envelope& env) {
  std::optional<uint64_t> relay_id = jsonrpc::ParseUintId(env.id.In(text));
  const ServerRequest* request = relay_id ? server_requests_.Find(*relay_id) : nullptr;
  if (request == nullptr || request->attachment != attachment) {
    log::Debug("dropped a response nobody asked for", {{"server", spec_.name}});
    return;
  }
  std::optional<ServerRequest> taken = server_requests_.Take(*relay_id);
  auto w = workers_.find(taken->worker);
  if (w != workers_.end() && w->second->child) {
    w->second->child->Write(jsonrpc::Replace(text, env.id, taken->server_id));
  }
}

void ServerPool::HandleServerNotification(Worker& w, std::string_view line, const Envelope& env) {
  if (env.method == "notifications/progress") {
    // Progress belongs to the caller whose request carried the token.
    std::optional<Span> token =
        env.params.empty() ? std::nullopt : jsonrpc::FindMember(line, env.params, "progressToken");
    std::optional<uint64_t> runner_id =
        token ? jsonrpc::ParseUintId(token->In(line)) : std::nullopt;
    const Pending* pending = runner_id ? w.pending.Find(*runner_id) : nullptr;
    if (pending == nullptr || pending->attachment == 0 || pending->progress_token.empty()) return;
    auto it = clients_.find(pending->attachment);
    if (it == clients_.end()) return;
    it->second.sink->OnMessage(jsonrpc::Replace(line, *token, pending->progress_token));
    return;
  }
  // About a server→client request the runner has answered itself.
  if (env.method == "notifications/cancelled") return;
  if (isolation() == Isolation::kShared) {
    for (auto& [id, client] : clients_) {
      if (client.opened) client.sink->OnMessage(std::string(line));
    }
    return;
  }
  // A keyed process speaks for its user or session alone, to the attachments it serves.
  const bool per_user = isolation() == Isolation::kPerUser;
  for (uint64_t a : w.attachments) {
    auto it = clients_.find(a);
    if (it == clients_.end() || !it->second.opened) continue;
    it->second.sink->OnRoutedMessage(std::string(line), per_user ? w.key : std::string_view(),
                                     per_user ? std::string_view() : w.key);
  }
}

void ServerPool::HandleExit(uint64_t worker_id, StdioChild* child, int wait_status) {
  std::string how = DescribeWaitStatus(wait_status);
  auto it = workers_.find(worker_id);
  if (it == workers_.end() || it->second->child.get() != child) {
    log::Debug("reaped an abandoned MCP server process",
               {{"server", spec_.name}, {"pid", static_cast<int64_t>(child->pid())}, {"how", how}});
    return;
  }
  Worker& w = *it->second;
  w.child.reset();
  if (w.state == WorkerState::kStarting) {
    log::Warn("MCP server exited",
              {{"server", spec_.name}, {"pid", static_cast<int64_t>(w.pid)}, {"how", how}});
    OnStartFailed(w,
                  StrCat("MCP server '", spec_.name, "' exited during initialization (", how, ")"));
    return;
  }
  std::string reason = StrCat("MCP server '", spec_.name, "' exited (", how, ")");
  if (!w.stop_reason.empty()) {
    log::Info("MCP server stopped",
              {{"server", spec_.name}, {"pid", static_cast<int64_t>(w.pid)}, {"how", how}});
    reason = w.stop_reason;
  } else {
    log::Warn("MCP server exited",
              {{"server", spec_.name}, {"pid", static_cast<int64_t>(w.pid)}, {"how", how}});
    if (Clock::now() - w.ready_at >= std::chrono::milliseconds(ctx_->options.healthy_uptime_ms)) {
      consecutive_failures_ = 0;
    }
    RecordFailure(reason);
  }
  RemoveWorker(worker_id, reason);
  Pump();
  EnsureMin();
}

// --- periodic checks ---

void ServerPool::ArmTick() {
  const auto period = std::chrono::milliseconds(std::max<int64_t>(ctx_->options.tick_ms, 10));
  ArmTickAt(Clock::now() + period);
}

void ServerPool::ArmTickAt(Clock::time_point at) {
  if (ctx_->shutting_down) return;
  if (tick_at_ <= at) return;  // an earlier tick is armed
  tick_at_ = at;
  tick_.expires_at(at);
  tick_.async_wait([this, alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
    if (ec || alive.expired()) return;
    tick_at_ = Clock::time_point::max();
    Tick();
  });
}

void ServerPool::Tick() {
  Pump();
  const Clock::time_point now = Clock::now();
  bool again = !queue_.empty();

  // Requests waiting too long in the queue.
  if (!queue_.empty()) {
    std::vector<Queued> expired;
    std::deque<Queued> keep;
    for (Queued& q : queue_)
      (q.deadline <= now ? expired.emplace_back(std::move(q)) : keep.emplace_back(std::move(q)));
    queue_ = std::move(keep);
    for (Queued& q : expired) {
      auto c = clients_.find(q.attachment);
      if (c == clients_.end()) continue;
      c->second.inflight.erase(std::string(q.env.id.In(q.text)));
      Reject(c->second, q,
             StrCat("MCP server '", spec_.name,
                    "' had no free process within queueTimeoutMs=", QueueTimeoutMs(), " (",
                    LiveWorkers(), " of maxProcesses=", MaxProcesses(), " running)"),
             jsonrpc::kUpstreamTimeout);
    }
  }

  std::vector<uint64_t> ids;
  for (auto& [id, w] : workers_) ids.push_back(id);
  const int64_t idle_ms = IdleTimeoutMs();
  const int64_t min = isolation() == Isolation::kShared ? spec_.pool.min_processes : 0;
  int64_t ready_shared = 0;
  for (auto& [id, w] : workers_) ready_shared += w->state == WorkerState::kReady ? 1 : 0;
  for (uint64_t id : ids) {
    auto it = workers_.find(id);
    if (it == workers_.end()) continue;
    Worker& w = *it->second;
    if (w.state == WorkerState::kStarting) {
      again = true;
      if (now - w.launched_at >= std::chrono::milliseconds(ctx_->options.init_timeout_ms)) {
        OnStartFailed(w, StrCat("MCP server '", spec_.name, "' did not answer initialize within ",
                                ctx_->options.init_timeout_ms, " ms"));
      }
      continue;
    }
    // Requests past their deadline: an error now, and the server is told to stop working.
    std::vector<std::pair<uint64_t, Pending>> late;
    w.pending.ForEach([&](uint64_t rid, const Pending& p) {
      if (p.deadline != Clock::time_point::max()) again = true;
      if (p.deadline <= now) late.emplace_back(rid, p);
    });
    for (auto& [rid, p] : late) {
      w.pending.Take(rid);
      if (w.child) {
        w.child->Write(jsonrpc::MakeNotification(
            "notifications/cancelled",
            StrCat(R"({"requestId":)", rid, R"(,"reason":"timed out in the gateway's runner"})")));
      }
      auto c = clients_.find(p.attachment);
      if (c == clients_.end()) continue;
      c->second.inflight.erase(p.client_id);
      c->second.sink->OnMessage(jsonrpc::MakeError(
          p.client_id, jsonrpc::kUpstreamTimeout,
          StrCat("MCP server '", spec_.name,
                 "' did not answer within requestTimeoutMs=", RequestTimeoutMs())));
    }
    if (!late.empty()) {
      AfterRequest(w);
      if (workers_.find(id) == workers_.end()) continue;
    }
    // Idle processes beyond min.
    if (idle_ms > 0 && w.state == WorkerState::kReady && w.InFlight() == 0) {
      if (now - w.last_active >= std::chrono::milliseconds(idle_ms)) {
        if (w.key.empty() && isolation() == Isolation::kShared && ready_shared <= min) continue;
        --ready_shared;
        log::Info("stopping an idle MCP server process",
                  {{"server", spec_.name}, {"pid", static_cast<int64_t>(w.pid)}});
        StopWorker(w, StrCat("MCP server '", spec_.name, "' was idle for ", idle_ms, " ms"));
      }
    }
  }
  EnsureMin();
  if (again || AnyStarting()) {
    ArmTick();
  } else if (!workers_.empty() && idle_ms > 0) {
    // Only idle reaping is left to watch: look again when the first one could be due.
    Clock::time_point due = Clock::time_point::max();
    for (auto& [id, w] : workers_) {
      if (w->state == WorkerState::kReady) {
        due = std::min(due, w->last_active + std::chrono::milliseconds(idle_ms));
      }
    }
    if (due != Clock::time_point::max()) {
      ArmTickAt(std::max(due, now + std::chrono::milliseconds(ctx_->options.tick_ms)));
    }
  }
}

// --- admin ---

std::vector<ProcessStatus> ServerPool::Describe() const {
  const Clock::time_point now = Clock::now();
  const std::string iso = spec_.pool.isolation.empty() ? "shared" : spec_.pool.isolation;
  auto base = [&] {
    ProcessStatus s;
    s.server = spec_.name;
    s.isolation = iso;
    s.attachments = static_cast<int64_t>(clients_.size());
    s.restarts = std::max<int64_t>(0, starts_ - 1);
    s.last_failure = last_failure_;
    s.queue_depth = static_cast<int64_t>(queue_.size());
    return s;
  };
  std::vector<ProcessStatus> out;
  for (const auto& [id, w] : workers_) {
    ProcessStatus s = base();
    s.pid = w->pid;
    s.key = w->key;
    switch (w->state) {
      case WorkerState::kStarting:
        s.state = "starting";
        break;
      case WorkerState::kReady:
        s.state = "ready";
        break;
      case WorkerState::kDraining:
        s.state = "draining";
        break;
      case WorkerState::kStopping:
        s.state = "stopping";
        break;
    }
    if (isolation() != Isolation::kShared) {
      s.attachments = static_cast<int64_t>(w->attachments.size());
    }
    s.in_flight = w->InFlight();
    s.sessions.assign(w->sessions.begin(), w->sessions.end());
    if (w->pid > 0) {
      s.uptime_ms = Ms(now - (w->ready_at != Clock::time_point{} ? w->ready_at : w->launched_at));
      // Resident pages are the second field of /proc/<pid>/statm.
      std::ifstream statm(StrCat("/proc/", w->pid, "/statm"));
      int64_t size = 0, resident = 0;
      if (statm >> size >> resident) s.rss_bytes = resident * ::sysconf(_SC_PAGESIZE);
    }
    out.push_back(std::move(s));
  }
  if (out.empty()) {
    ProcessStatus s = base();
    s.state = now < retry_at_ ? (BreakerOpen() ? "breaker-open" : "backoff") : "idle";
    out.push_back(std::move(s));
  }
  return out;
}

std::string ServerPool::KeepStderr(const std::vector<std::string>& secrets, std::string_view line) {
  std::string masked(line);
  for (const std::string& secret : secrets) {
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

std::vector<std::string> ServerPool::StderrTail(size_t max_lines) const {
  size_t skip = stderr_tail_.size() > max_lines ? stderr_tail_.size() - max_lines : 0;
  return std::vector<std::string>(stderr_tail_.begin() + static_cast<std::ptrdiff_t>(skip),
                                  stderr_tail_.end());
}

}  // namespace switchboard::runner
