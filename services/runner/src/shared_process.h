#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>

#include "services/runner/src/rate_limiter.h"
#include "services/runner/src/runner_service.h"
#include "services/runner/src/stdio_child.h"
#include "switchboard/jsonrpc/id_mapper.h"
#include "switchboard/jsonrpc/message.h"

namespace switchboard::runner {

// What the processes of one runner share. Owned by the RunnerService and used on its I/O
// thread only.
struct ProcessContext {
  boost::asio::io_context& io;
  const RunnerOptions& options;
  const ServerCatalog& catalog;
  ProcessLauncher& launcher;
  bool shutting_down = false;
  // Every child not reaped yet, including those a SharedProcess has given up on.
  std::unordered_map<StdioChild*, std::shared_ptr<StdioChild>> children;
  // Runs after a child has been reaped and removed from `children`.
  std::function<void()> on_child_reaped;
};

// One server process shared by many attachments, supervised across its incarnations: started
// on first use, initialized once (its InitializeResult handed to every attachment), requests
// multiplexed with runner-unique ids and routed back with the caller's id restored byte for
// byte, progress routed by token to the caller that asked for it, server notifications sent to
// every attachment. When the process exits, requests in flight get a -32001 error, attachments
// stay, and the next use restarts it, with exponential backoff between failures (during which
// uses fail at once). All methods run on the I/O thread.
class SharedProcess {
 public:
  SharedProcess(ProcessContext* ctx, std::string server);
  SharedProcess(const SharedProcess&) = delete;
  SharedProcess& operator=(const SharedProcess&) = delete;

  // Adds an attachment: OnOpened once the process is initialized (starting it if it is not
  // running), or OnClosed(Unavailable) when it cannot be started.
  void Attach(uint64_t attachment, std::shared_ptr<AttachmentSink> sink);
  // One message from an attachment (held until the process is ready; restarts it if needed).
  void Send(uint64_t attachment, std::string message);
  // Forgets an attachment; the server is told to cancel its requests in flight.
  void Detach(uint64_t attachment);
  // Closes every attachment with `status` and lets go of the process (the caller stops it).
  void Shutdown(const absl::Status& status);
  // Stops the process (SIGTERM, then SIGKILL after the grace): callers in flight get an error,
  // attachments stay, and the next use starts a fresh process at once (no backoff). False when
  // no process was running.
  bool Restart();

  ProcessStatus Describe() const;
  // The last lines the server wrote to stderr (across restarts, secrets masked), oldest first.
  std::vector<std::string> StderrTail(size_t max_lines) const;

 private:
  enum class State { kIdle, kStarting, kReady };

  // A request in flight: whose it is and the caller's own id and progress token (raw JSON).
  // Attachment 0 stands for the runner's own initialize.
  struct Pending {
    uint64_t attachment = 0;
    std::string client_id;
    std::string progress_token;
  };

  // A request from the server relayed to one attachment: who was asked and the server's own id.
  struct ServerRequest {
    uint64_t attachment = 0;
    std::string server_id;
  };

  struct Client {
    std::shared_ptr<AttachmentSink> sink;
    bool opened = false;
    std::unordered_map<std::string, uint64_t> inflight;  // caller's raw id → runner id
  };

  void StartProcess();
  // Fails the start; `server_failed` false when the server is not to blame (no backoff).
  void OnStartFailed(const std::string& reason, bool server_failed = true);
  void RecordFailure(const std::string& reason);
  absl::Status CheckBackoff() const;
  void FailInFlight(const std::string& reason);
  void OpenClient(Client& client);

  void Forward(uint64_t attachment, Client& client, std::string text);
  void ForwardRequest(uint64_t attachment, Client& client, const std::string& text,
                      const jsonrpc::Envelope& env);
  void ForwardNotification(Client& client, std::string text, const jsonrpc::Envelope& env);
  // Answers a message that cannot reach the server: requests get a -32001 error with `reason`.
  void Reject(Client& client, std::string_view text, std::string_view reason);

  void HandleLine(StdioChild* child, std::string_view line);
  void HandleResponse(std::string_view line, const jsonrpc::Envelope& env);
  void HandleInitializeResponse(std::string_view line, const jsonrpc::Envelope& env);
  void HandleServerRequest(std::string_view line, const jsonrpc::Envelope& env);
  // An attachment's answer to a relayed server request: back to the server with its own id.
  void ForwardResponse(uint64_t attachment, std::string_view text, const jsonrpc::Envelope& env);
  void HandleServerNotification(std::string_view line, const jsonrpc::Envelope& env);
  void HandleExit(StdioChild* child, int wait_status);
  // Keeps a stderr line in the tail, masked; returns the masked line.
  std::string KeepStderr(std::string_view line);

  ProcessContext* ctx_;
  std::string server_;
  State state_ = State::kIdle;
  std::shared_ptr<StdioChild> child_;
  pid_t pid_ = 0;
  std::string init_result_;
  std::chrono::steady_clock::time_point started_at_{};
  boost::asio::steady_timer init_timer_;

  jsonrpc::IdMapper<Pending> pending_;
  jsonrpc::IdMapper<ServerRequest> server_requests_;
  std::map<uint64_t, Client> clients_;
  std::deque<std::pair<uint64_t, std::string>> queued_;  // waiting for the process to be ready

  int consecutive_failures_ = 0;
  std::chrono::steady_clock::time_point retry_at_{};
  std::string last_failure_;
  RateLimiter garbage_limit_{1, 10};

  int64_t starts_ = 0;
  bool restarting_ = false;  // the exit to come was asked for: no failure, no backoff
  std::vector<std::string> secrets_;  // env values of the current process, masked in stderr
  std::deque<std::string> stderr_tail_;
  size_t stderr_tail_bytes_ = 0;
};

}  // namespace switchboard::runner
