#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "services/runner/src/process_launcher.h"
#include "services/runner/src/server_catalog.h"

namespace switchboard::runner {

// Tuning of the process pool. The defaults are those of config/runner.yaml.
struct RunnerOptions {
  int64_t init_timeout_ms = 60000;                     // a server's time to answer initialize
  int64_t max_line_bytes = int64_t{16} * 1024 * 1024;  // longer stdout lines are dropped
  int64_t stop_grace_ms = 2000;              // SIGTERM → SIGKILL delay when stopping a server
  int64_t restart_backoff_initial_ms = 100;  // delay after the second failure in a row
  int64_t restart_backoff_max_ms = 10000;    // cap of the doubling delay
  int64_t restart_jitter_percent = 10;       // random extra delay, up to this share of it
  int64_t healthy_uptime_ms = 60000;         // an exit after this long resets the backoff
  int64_t max_processes = 256;  // server processes this runner keeps at once; 0 = no cap
  std::string client_version = "0.1.0";      // clientInfo.version sent in initialize
  int64_t idle_timeout_ms = 600000;          // idle processes beyond a server's min stop; 0 = never
  int64_t max_concurrent_starts = 8;         // processes starting (launch → initialized) at once
  int64_t breaker_failures = 5;              // failures in a row that open a server's breaker
  int64_t breaker_cooldown_ms = 30000;       // open breaker → one start is tried again
  int64_t tick_ms = 100;  // how often timeouts, idle processes and min are checked
};

// Who a message is for: chooses the process of a per-user or per-session server.
struct RouteContext {
  std::string user;
  std::string session;
};

// What the runner admin API shows of one server process.
struct ProcessStatus {
  std::string server;
  int64_t pid = 0;            // 0 when not running
  // "idle", "starting", "ready", "draining", "stopping", "backoff", "breaker-open"
  std::string state;
  int64_t uptime_ms = 0;      // since the current process started
  int64_t attachments = 0;    // callers attached
  int64_t in_flight = 0;      // requests waiting for an answer
  int64_t restarts = 0;       // processes started after the first
  int64_t rss_bytes = 0;      // resident memory of the process (not its children)
  std::string last_failure;   // why the last process failed, if one did
  std::string isolation;      // "shared", "per-user", "per-session"
  std::string key;            // the user or session a keyed process serves
  std::vector<std::string> sessions;  // client sessions it has served (bounded)
  int64_t queue_depth = 0;            // requests of the server waiting for a process
};

// Receives what the runner sends to one attached caller. Called on the runner's I/O thread, one
// call at a time (except OnClosed for an Attach after Shutdown, which comes on the caller's
// thread); implementations must not block.
class AttachmentSink {
 public:
  virtual ~AttachmentSink() = default;

  // The server is running and initialized. Comes once, before any message.
  virtual void OnOpened(std::string_view initialize_result, int64_t pid) = 0;
  // One JSON-RPC message for the caller (a response with its original id, or a notification).
  virtual void OnMessage(std::string message) = 0;
  // A notification from a per-user or per-session process, for that user or session alone.
  virtual void OnRoutedMessage(std::string message, std::string_view /*user*/,
                               std::string_view /*session*/) {
    OnMessage(std::move(message));
  }
  // The attachment is over: the server cannot be opened (NotFound, FailedPrecondition,
  // Unavailable), or the runner is shutting down. Nothing follows.
  virtual void OnClosed(absl::Status status) = 0;
};

class RunnerService;

// One caller's attachment to a server, returned by RunnerService::Attach. Thread-safe. The
// RunnerService must outlive it.
class Attachment {
 public:
  Attachment(const Attachment&) = delete;
  Attachment& operator=(const Attachment&) = delete;
  // Detaches.
  ~Attachment();

  // Sends one JSON-RPC message from the caller to the server. Messages sent before OnOpened are
  // held until the server is ready (and dropped if it never is).
  void Send(std::string message);
  // The same for a message sent on behalf of `route`'s user and session (which choose the
  // process of a per-user or per-session server) instead of the attachment's own.
  void Send(std::string message, RouteContext route);
  // Ends the attachment: its pending requests are forgotten (their responses dropped, the server
  // told to cancel them) and the process keeps running for others. Idempotent.
  void Detach();

 private:
  friend class RunnerService;
  Attachment(RunnerService* service, uint64_t id) : service_(service), id_(id) {}

  RunnerService* service_;
  uint64_t id_;
  std::atomic<bool> detached_{false};
};

// The STDIO process pool: a ServerPool per server (see server_pool.h) with the isolation, sizes,
// queue and timeouts of the server's configuration, processes spawned on first use (or warm at
// config time), restarted with backoff and a circuit breaker. It knows nothing of gRPC or
// namespaces; users and sessions are opaque keys. All process state lives on one I/O thread
// owned by the service; the public methods only post to it.
class RunnerService {
 public:
  // `catalog` and `launcher` must outlive the service.
  RunnerService(RunnerOptions options, const ServerCatalog* catalog, ProcessLauncher* launcher);
  // Shuts down (if not done yet).
  ~RunnerService();

  RunnerService(const RunnerService&) = delete;
  RunnerService& operator=(const RunnerService&) = delete;

  // Attaches a caller to `server`. The sink gets OnOpened once the server's process is
  // initialized (starting it if needed; concurrent attachments share one start), or OnClosed:
  // NotFound for an unknown server, FailedPrecondition for one that is not STDIO, Unavailable
  // when it cannot be started. Thread-safe.
  // `context` is the user and session of messages sent without one of their own.
  std::unique_ptr<Attachment> Attach(std::string server, std::shared_ptr<AttachmentSink> sink,
                                     RouteContext context = {});

  // Takes in the catalog's current servers: starts the minProcesses of shared servers (within
  // max_concurrent_starts) and refreshes the settings of the pools that exist. Call when the
  // configuration changes. Thread-safe; does not wait.
  void ApplyConfig();

  // The admin view: every server process the runner has (running or not), by server name.
  // Thread-safe; waits for the I/O thread. Empty after Shutdown.
  std::vector<ProcessStatus> ListProcesses();
  // Restarts `server`'s processes (see ServerPool::Restart). NotFound when the runner has
  // never run it; FailedPrecondition when it is not running.
  absl::Status RestartServer(const std::string& server);
  // Drains `server` (see ServerPool::Drain): the number of processes draining. NotFound when
  // the runner has never run it.
  absl::StatusOr<int64_t> DrainServer(const std::string& server);
  // The last `max_lines` stderr lines of `server` (secrets masked). NotFound when the runner has
  // never run it.
  absl::StatusOr<std::vector<std::string>> ServerLogs(const std::string& server, size_t max_lines);

  // Stops accepting attachments, closes every attachment (Unavailable), stops every child
  // (SIGTERM to its process group, SIGKILL after stop_grace_ms) and returns once all are reaped
  // and the I/O thread has ended. Idempotent; must not be called from a sink callback.
  void Shutdown();

  // The I/O thread's executor, where sink callbacks run: a transport served on it calls the
  // service, and is called by it, without crossing a thread.
  boost::asio::any_io_executor executor() const;

 private:
  friend class Attachment;
  struct Impl;

  void Send(uint64_t attachment, std::string message, std::optional<RouteContext> route);
  void Detach(uint64_t attachment);
  // Runs `fn` on the I/O thread and returns its result; `fallback` once the runner is shut down.
  template <class T>
  T OnIoThread(std::function<T()> fn, T fallback);

  std::unique_ptr<Impl> impl_;
};

}  // namespace switchboard::runner
