#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::load {

// A child process started with execvp (no shell) whose stdin and stdout are pipes owned by this
// object; its stderr goes to ours, or to /dev/null when `quiet_stderr`. The destructor closes
// the pipes and reaps the child, killing it if it has not exited within a second.
class StdioProcess {
 public:
  static absl::StatusOr<std::unique_ptr<StdioProcess>> Start(const std::vector<std::string>& argv,
                                                             bool quiet_stderr);
  ~StdioProcess();
  StdioProcess(const StdioProcess&) = delete;
  StdioProcess& operator=(const StdioProcess&) = delete;

  int pid() const { return pid_; }

  // Hands the write end of the child's stdin (or the read end of its stdout) to the caller,
  // who then owns and closes it; -1 once released or closed.
  int ReleaseStdin();
  int ReleaseStdout();

  // Blocking helpers for tests and simple drivers.
  // Writes all of `data` to the child's stdin; false if the pipe broke.
  bool Write(std::string_view data);
  // Closes the child's stdin (it sees end of input).
  void CloseStdin();
  // The next line of the child's stdout without its newline; nullopt at end of output or when
  // `timeout` passes first.
  std::optional<std::string> ReadLine(std::chrono::milliseconds timeout);

  // Waits up to `grace` for the child to exit, then kills it; returns its wait status, or -1
  // if it was already reaped.
  int Wait(std::chrono::milliseconds grace);

 private:
  StdioProcess(int pid, int in_fd, int out_fd) : pid_(pid), in_fd_(in_fd), out_fd_(out_fd) {}

  int pid_;
  int in_fd_;
  int out_fd_;
  bool reaped_ = false;
  std::string pending_;  // stdout bytes read but not yet returned by ReadLine
};

}  // namespace switchboard::load
