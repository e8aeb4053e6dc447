#pragma once

#include <absl/status/statusor.h>
#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::runner {

// Owns one file descriptor and closes it on destruction.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(other.Release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    Reset(other.Release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { Reset(); }

  int get() const { return fd_; }
  bool valid() const { return fd_ >= 0; }
  // Gives up ownership and returns the descriptor.
  int Release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  // Closes the current descriptor (if any) and owns `fd` instead.
  void Reset(int fd = -1);

 private:
  int fd_ = -1;
};

// What to run. `command` is argv[0] (resolved on PATH, never through a shell); `env` is the
// server's environment from its configuration, added to the few variables of the runner's own
// that the launcher passes on, and winning over them. Env values are secrets: never log them.
// Limits set on every server process (setrlimit, soft and hard), 0 = left as the runner's.
struct ResourceLimits {
  uint64_t address_space_bytes = 0;  // RLIMIT_AS
  uint64_t cpu_seconds = 0;          // RLIMIT_CPU
  uint64_t open_files = 0;           // RLIMIT_NOFILE
  uint64_t processes = 0;            // RLIMIT_NPROC (counts every process of the runner's user)
};

// `limits` with each field that is 0 taken from `defaults`.
ResourceLimits MergeLimits(const ResourceLimits& limits, const ResourceLimits& defaults);

struct LaunchSpec {
  std::string command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  std::string cwd;        // working directory; "" = the runner's
  ResourceLimits limits;  // this server's limits; fields left 0 take the launcher's
};

// The variables of the runner's environment a server inherits by default: what programs need
// to run and to reach the network (locale, home, CA bundles, proxy settings), not the rest of
// the runner's environment (its own credentials among them).
const std::vector<std::string>& DefaultPassEnv();

struct LauncherOptions {
  // Names of the runner's environment variables passed on to servers; "*" passes all of them
  // (the runner's own secrets included: only for trusted single-user setups).
  std::vector<std::string> pass_env = DefaultPassEnv();
  ResourceLimits limits;
};

// A started process: its pid (which is also its process group id: it leads its own session)
// and the runner's ends of its stdio pipes, all close-on-exec.
struct LaunchedProcess {
  pid_t pid = -1;
  UniqueFd stdin_fd;   // write end of the child's stdin
  UniqueFd stdout_fd;  // read end of the child's stdout
  UniqueFd stderr_fd;  // read end of the child's stderr
  UniqueFd exit_fd;    // a pidfd, readable once the child has exited; invalid when unsupported
};

// Starts server processes. The seam where isolation modes (sandboxes, rlimits, containers) plug
// in later.
class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;

  // Starts `spec` with stdin/stdout/stderr on pipes. On success the child has already replaced
  // itself with the command; a command that cannot be found or executed is an error here, never
  // a child that silently dies.
  virtual absl::StatusOr<LaunchedProcess> Launch(const LaunchSpec& spec) = 0;
};

// The real launcher: fork + execve. The child gets its own session and process group (setsid),
// PR_SET_PDEATHSIG SIGKILL, a clean signal mask with default dispositions, the resource limits,
// an environment of its configured variables plus only the passed-on ones of the runner's, and
// no descriptor other than its three pipes. PDEATHSIG fires when the thread that called Launch ends, so call
// Launch from a thread that outlives the children (the runner's I/O thread).
class ForkExecLauncher final : public ProcessLauncher {
 public:
  explicit ForkExecLauncher(LauncherOptions options = {}) : options_(std::move(options)) {}
  absl::StatusOr<LaunchedProcess> Launch(const LaunchSpec& spec) override;

 private:
  LauncherOptions options_;
};

// Finds an executable the way execvp does, without a shell: a command containing '/' is used as
// is; otherwise the first executable regular file of that name in the ':'-separated `path` (an
// empty entry means the current directory; an empty `path` means /usr/local/bin:/usr/bin:/bin).
// NotFound when there is none.
absl::StatusOr<std::string> ResolveCommand(std::string_view command, std::string_view path);

// Sends `sig` to every process of the group `pgid`; false when the group no longer exists.
bool SignalProcessGroup(pid_t pgid, int sig);

// Reaps `pid` without blocking: its raw wait status once it has exited, nullopt while it runs.
// A pid that is not (or no longer) a child of this process reads as exited with status 255.
std::optional<int> TryReap(pid_t pid);

// "status N" for a normal exit, "signal N" for a death by signal.
std::string DescribeWaitStatus(int wait_status);

}  // namespace switchboard::runner
