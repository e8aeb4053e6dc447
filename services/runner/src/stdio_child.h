#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "services/runner/src/process_launcher.h"
#include "services/runner/src/rate_limiter.h"

namespace switchboard::runner {

// One running server process as the I/O thread sees it: stdout split into lines (over-long
// lines dropped), stdin writes queued, stderr drained line by line into the debug log (capped
// and rate-bounded, so the child never blocks on it), and exit detection through a pidfd.
// on_exit comes exactly once, after the child has been reaped and its stdout has ended (or a
// short wait for that has passed); the rest of its process group is killed then. Not
// thread-safe: every method runs on the io_context's single thread. Create with
// std::make_shared; pending operations keep the object alive.
class StdioChild : public std::enable_shared_from_this<StdioChild> {
 public:
  struct Callbacks {
    // One stdout line, without its newline. The view is valid during the call only.
    std::function<void(StdioChild* child, std::string_view line)> on_line;
    // The child is gone; `wait_status` is its raw wait status.
    std::function<void(StdioChild* child, int wait_status)> on_exit;
    // One stderr line (at most a few KiB, CR stripped), every one of them; returns the line as
    // it may be logged (secrets masked). Unset: lines are logged as they are.
    std::function<std::string(std::string_view line)> on_stderr;
  };

  StdioChild(boost::asio::io_context& io, std::string server, LaunchedProcess process,
             size_t max_line_bytes, std::chrono::milliseconds stop_grace, Callbacks callbacks);
  // Kills and reaps the child if it was never seen to exit (a last resort: normally on_exit has
  // come before).
  ~StdioChild();

  StdioChild(const StdioChild&) = delete;
  StdioChild& operator=(const StdioChild&) = delete;

  // Starts reading stdout and stderr and watching for exit.
  void Start();
  // Queues one line (without newline) for the child's stdin. False when stdin is closed or the
  // queue already holds too many bytes (the child is not reading).
  bool Write(std::string line);
  // Asks the process group to stop: SIGTERM now, SIGKILL after `grace`.
  void Stop(std::chrono::milliseconds grace);
  // Kills the process group now.
  void Kill();

  pid_t pid() const { return pid_; }
  bool finished() const { return finished_; }

 private:
  void ReadStdout();
  void OnStdout(size_t n);
  void EmitLine(std::string_view line);
  void DropLongLine(size_t bytes);
  void ReadStderr();
  void OnStderr(size_t n);
  void LogStderr(std::string_view line, bool truncated);
  void WatchExit();
  void OnExited(int wait_status);
  void WriteNext();
  void MaybeFinish();

  std::string server_;
  pid_t pid_;
  size_t max_line_bytes_;
  size_t max_queued_bytes_;
  std::chrono::milliseconds stop_grace_;
  Callbacks callbacks_;

  boost::asio::posix::stream_descriptor stdin_;
  boost::asio::posix::stream_descriptor stdout_;
  boost::asio::posix::stream_descriptor stderr_;
  boost::asio::posix::stream_descriptor exit_fd_;
  boost::asio::steady_timer kill_timer_;  // SIGKILL after a SIGTERM's grace
  boost::asio::steady_timer eof_timer_;   // stops waiting for stdout EOF after the exit
  boost::asio::steady_timer poll_timer_;  // exit polling when there is no pidfd

  std::vector<char> stdout_buf_;
  std::string line_;  // a stdout line split across reads
  bool discarding_ = false;
  std::vector<char> stderr_buf_;
  std::string stderr_line_;
  bool stderr_discarding_ = false;

  std::deque<std::string> writes_;
  size_t queued_bytes_ = 0;
  bool writing_ = false;

  bool stdout_eof_ = false;
  bool exited_ = false;
  bool finished_ = false;
  int wait_status_ = 0;

  RateLimiter stderr_limit_;
  RateLimiter drop_limit_;
};

}  // namespace switchboard::runner
