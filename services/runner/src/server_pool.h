#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "services/runner/src/rate_limiter.h"
#include "services/runner/src/runner_service.h"
#include "services/runner/src/stdio_child.h"
#include "switchboard/jsonrpc/id_mapper.h"
#include "switchboard/jsonrpc/message.h"

namespace switchboard::runner {

// What the pools of one runner share. Owned by the RunnerService and used on its I/O thread
// only.
struct ProcessContext {
  boost::asio::io_context& io;
  const RunnerOptions& options;
  const ServerCatalog& catalog;
  ProcessLauncher& launcher;
  bool shutting_down = false;
  // Every child not reaped yet, including those a pool has given up on.
  std::unordered_map<StdioChild*, std::shared_ptr<StdioChild>> children;
  // Runs after a child has been reaped and removed from `children`.
  std::function<void()> on_child_reaped;

  // Start-up concurrency: processes between launch and their initialize answer, and the
  // servers waiting for a slot (first come, first served).
  int64_t starting = 0;
  std::deque<std::string> start_waiters;
  // Runs when a start slot frees up: the service lets the next waiting server try.
  std::function<void()> on_start_slot_free;
};

// The processes that serve one STDIO server, and the attachments (callers) that use them.
//
// Isolation (from the server's config): `shared` runs up to maxProcesses processes that every
// caller shares; `per-user` and `per-session` run one process per user or per client session
// (the key of each message, from its Routed context or the attachment's Open), up to
// maxProcesses in all. Every process is initialized once; requests are multiplexed with ids
// unique on that process and mapped back byte for byte, progress goes to the caller that asked,
// unsolicited notifications go to every attachment the process serves (scoped to the user or
// session for keyed processes).
//
// A request goes to the least loaded ready process of its key with room (maxInFlightPerProcess);
// otherwise it waits in a bounded FIFO queue (queueSize, queueTimeoutMs) while a process is
// started if the limits allow. A full queue, a queue timeout, a cap that can never be met, or a
// start failure answers the caller with a JSON-RPC error at once. Idle processes beyond
// minProcesses are stopped after idleTimeoutMs; shared servers keep minProcesses warm.
//
// Supervision: a crash gives every request in flight on that process an error at once; starts
// after failures wait with exponential backoff (with jitter); after `breaker_failures` failures
// in a row the circuit breaker opens (uses fail at once) for `breaker_cooldown_ms`, then one
// start is tried (half-open): success closes it, failure opens it again. A request past
// requestTimeoutMs gets an error and the process is sent notifications/cancelled.
//
// All methods run on the I/O thread.
class ServerPool {
 public:
  ServerPool(ProcessContext* ctx, ServerSpec spec);
  ~ServerPool();
  ServerPool(const ServerPool&) = delete;
  ServerPool& operator=(const ServerPool&) = delete;

  const std::string& name() const { return spec_.name; }
  // Takes in the server's current configuration (used for the next decisions and starts).
  void UpdateSpec(ServerSpec spec);
  // Whether processes are running that were started with another command, args, env, working
  // directory or limits than `spec`'s.
  bool RunsOutdatedSpec(const ServerSpec& spec) const;

  // Adds an attachment: OnOpened once a process is initialized (starting one if none runs), or
  // OnClosed(Unavailable) when none can be started.
  void Attach(uint64_t attachment, std::shared_ptr<AttachmentSink> sink, const RouteContext& ctx);
  // One message from an attachment for the user and session of `route` (the attachment's
  // Open context when `route` is null).
  void Send(uint64_t attachment, std::string message, const RouteContext* route);
  // Forgets an attachment; its requests in flight are cancelled on their processes.
  void Detach(uint64_t attachment);
  // Closes every attachment with `status` and lets go of the processes (the caller stops them).
  void Shutdown(const absl::Status& status);
  // Stops every process (SIGTERM, then SIGKILL after the grace): requests in flight get an
  // error, attachments stay, and the next use starts fresh processes at once (no backoff).
  // False when no process was running.
  bool Restart();
  // Stops giving work to the current processes, stops each once its requests in flight are
  // answered; requests meanwhile wait in the queue for a fresh process. Returns the number of
  // processes draining.
  int64_t Drain();
  // Starts processes up to minProcesses (shared), within the start-up concurrency cap.
  void EnsureMin();
  // Retries what waited for a start slot.
  void OnStartSlotFree();

  std::vector<ProcessStatus> Describe() const;
  // The last lines the server wrote to stderr (across processes and restarts, secrets masked),
  // oldest first.
  std::vector<std::string> StderrTail(size_t max_lines) const;

 private:
  using Clock = std::chrono::steady_clock;
  enum class Isolation { kShared, kPerUser, kPerSession };
  enum class WorkerState { kStarting, kReady, kDraining, kStopping };

  // A request in flight on one process: whose it is, the caller's own id and progress token
  // (raw JSON), and when the runner gives up on it. Attachment 0 is the runner's initialize.
  struct Pending {
    uint64_t attachment = 0;
    std::string client_id;
    std::string progress_token;
    Clock::time_point deadline = Clock::time_point::max();
  };

  // One process of the pool.
  struct Worker {
    uint64_t id = 0;
    std::string key;  // the user or session it serves; "" for shared
    WorkerState state = WorkerState::kStarting;
    std::shared_ptr<StdioChild> child;
    pid_t pid = 0;
    Clock::time_point launched_at{};
    Clock::time_point ready_at{};
    Clock::time_point last_active{};
    bool holds_start_slot = false;
    std::string stop_reason;  // set when the runner asked it to stop: its exit is no failure
    jsonrpc::IdMapper<Pending> pending;
    std::set<uint64_t> attachments;    // those it has served
    std::set<std::string> sessions;    // client sessions it has served (bounded)
    std::vector<std::string> secrets;  // env values, masked in its stderr

    int64_t InFlight() const {
      return state == WorkerState::kStarting ? 0 : static_cast<int64_t>(pending.size());
    }
  };

  // A request from a server relayed to one attachment: who was asked, by which process, and the
  // server's own id.
  struct ServerRequest {
    uint64_t attachment = 0;
    uint64_t worker = 0;
    std::string server_id;
  };

  // Where a caller's request is: on a process (worker id and runner id), or queued (worker 0).
  struct Route {
    uint64_t worker = 0;
    uint64_t runner_id = 0;
  };

  struct Client {
    std::shared_ptr<AttachmentSink> sink;
    RouteContext context;  // from Open
    bool opened = false;
    std::unordered_map<std::string, Route> inflight;  // caller's raw id → where it is
  };

  // A request waiting for a process.
  struct Queued {
    uint64_t attachment = 0;
    std::string text;
    jsonrpc::Envelope env;
    std::string key;
    std::string session;
    Clock::time_point deadline;
  };

  Isolation isolation() const;
  std::string KeyFor(const RouteContext& ctx) const;
  int64_t MaxProcesses() const;  // of the whole pool
  int64_t MaxPerKey() const;     // processes one key may have
  int64_t MaxInFlight() const;   // 0 = unbounded
  size_t QueueSize() const;
  int64_t QueueTimeoutMs() const;
  int64_t IdleTimeoutMs() const;     // 0 = never
  int64_t RequestTimeoutMs() const;  // 0 = none

  // The least loaded ready process of `key` with room for one more request, or nullptr.
  Worker* PickWorker(const std::string& key);
  // Processes of `key` that are starting or serving (not draining or stopping).
  int64_t LiveWorkers(const std::string& key) const;
  int64_t LiveWorkers() const;
  bool AnyStarting() const;
  // Starts a process for `key` when one is needed and allowed. OK when one is running or
  // starting for it, or when the wait is worth it (a start slot, a busy shared pool); an error
  // that the callers of `key` get at once otherwise.
  absl::Status EnsureCapacity(const std::string& key);
  // Whether the circuit breaker counts enough failures in a row to be open (or half-open).
  bool BreakerOpen() const;
  // Whether a start may happen now (backoff and circuit breaker); the error says why not.
  absl::Status CheckStartAllowed() const;
  absl::Status StartWorker(const std::string& key);
  void OnStartFailed(Worker& worker, const std::string& reason, bool server_failed = true);
  void RecordFailure(const std::string& reason);
  void ReleaseStartSlot(Worker& worker);
  // Removes a worker whose process is gone (or given up on), failing what was in flight on it.
  void RemoveWorker(uint64_t id, const std::string& reason);
  // Fails requests that wait for `key` ("" with `all`: every one) and closes attachments not
  // opened yet when nothing can serve them.
  void FailWaiting(const std::string& key, bool all, const std::string& reason, int code);
  void StopWorker(Worker& worker, std::string reason);

  void OpenClients(const Worker& worker);
  void Dispatch(uint64_t attachment, Client& client, std::string text, const jsonrpc::Envelope& env,
                const RouteContext& route);
  void Submit(Queued q);
  void SendToWorker(Worker& worker, Queued& q, Client& client);
  // Moves queued requests to processes with room; starts processes for what still waits.
  void Pump();
  void ForwardNotification(uint64_t attachment, Client& client, std::string text,
                           const jsonrpc::Envelope& env, const std::string& key);
  void ForwardResponse(uint64_t attachment, std::string_view text, const jsonrpc::Envelope& env);
  // Answers a queued request that cannot be served with `code` and `reason`.
  void Reject(Client& client, const Queued& q, std::string_view reason,
              int code = jsonrpc::kUpstreamUnavailable);

  void HandleLine(uint64_t worker_id, std::string_view line);
  void HandleResponse(Worker& worker, std::string_view line, const jsonrpc::Envelope& env);
  void HandleInitializeResponse(Worker& worker, std::string_view line,
                                const jsonrpc::Envelope& env);
  void HandleServerRequest(Worker& worker, std::string_view line, const jsonrpc::Envelope& env);
  void HandleServerNotification(Worker& worker, std::string_view line,
                                const jsonrpc::Envelope& env);
  void HandleExit(uint64_t worker_id, StdioChild* child, int wait_status);
  // After a request left `worker`: stops it when it drains and is done, and serves the queue.
  void AfterRequest(Worker& worker);
  void MaybeEndDrain();
  // Starts a process for attachments still waiting for OnOpened when none runs or starts.
  void OpenWaitingClients();
  std::string KeepStderr(const std::vector<std::string>& secrets, std::string_view line);

  // The periodic check: init, request and queue timeouts, idle reaping, minProcesses.
  void ArmTick();
  void ArmTickAt(Clock::time_point at);
  void Tick();

  ProcessContext* ctx_;
  ServerSpec spec_;
  ServerSpec launched_spec_;  // what the latest process was started with
  std::map<uint64_t, std::unique_ptr<Worker>> workers_;
  uint64_t next_worker_ = 1;
  std::string init_result_;  // the last InitializeResult a process gave

  jsonrpc::IdMapper<ServerRequest> server_requests_;
  std::map<uint64_t, Client> clients_;
  std::deque<Queued> queue_;

  int consecutive_failures_ = 0;
  Clock::time_point retry_at_{};
  std::string last_failure_;
  bool waiting_for_slot_ = false;
  bool draining_ = false;
  RateLimiter garbage_limit_{1, 10};

  int64_t starts_ = 0;
  std::deque<std::string> stderr_tail_;
  size_t stderr_tail_bytes_ = 0;

  boost::asio::steady_timer tick_;
  Clock::time_point tick_at_ = Clock::time_point::max();
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace switchboard::runner
