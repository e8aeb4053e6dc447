#include "services/runner/src/process_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"

extern char** environ;

namespace switchboard::runner {
namespace {

constexpr std::string_view kDefaultPath = "/usr/local/bin:/usr/bin:/bin";
constexpr long kMaxFdToClose = 1 << 16;  // bound of the close loop when close_range is missing

std::string ErrnoText(int err) { return std::generic_category().message(err); }

absl::Status ErrnoStatus(std::string_view what, int err) {
  return absl::InternalError(StrCat(what, " failed: ", ErrnoText(err)));
}

bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

// Moves a descriptor numbered 0..2 (possible when the runner was started with a closed stdio)
// above 2, so that the child's dup2 onto 0..2 cannot clobber it.
absl::Status LiftAboveStdio(UniqueFd* fd) {
  if (fd->get() > 2) return absl::OkStatus();
  int moved = ::fcntl(fd->get(), F_DUPFD_CLOEXEC, 3);
  if (moved < 0) return ErrnoStatus("fcntl(F_DUPFD_CLOEXEC)", errno);
  fd->Reset(moved);
  return absl::OkStatus();
}

absl::Status MakePipe(UniqueFd* read_end, UniqueFd* write_end) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return ErrnoStatus("pipe2", errno);
  read_end->Reset(fds[0]);
  write_end->Reset(fds[1]);
  SB_RETURN_IF_ERROR(LiftAboveStdio(read_end));
  return LiftAboveStdio(write_end);
}

// Everything the child needs, prepared before fork: after fork only async-signal-safe calls are
// allowed (no allocation).
struct ChildPlan {
  const char* exe;
  char* const* argv;
  char* const* envp;
  int stdin_read;
  int stdout_write;
  int stderr_write;
  int status_write;  // close-on-exec; receives errno when anything before exec fails
  pid_t parent;
  int max_fd;
  const ResourceLimits* limits;
  const char* cwd;  // nullptr: stay in the runner's
};

// Sets `resource` to `value` (soft and hard) unless it is 0; false when setrlimit failed.
bool SetLimit(int resource, uint64_t value) {
  if (value == 0) return true;
  struct rlimit limit;
  limit.rlim_cur = static_cast<rlim_t>(value);
  limit.rlim_max = static_cast<rlim_t>(value);
  return ::setrlimit(resource, &limit) == 0;
}

void CloseRange(unsigned first, unsigned last, int max_fd) {
  if (first > last) return;
  if (::close_range(first, last, 0) == 0) return;
  for (long fd = first; fd <= static_cast<long>(last) && fd <= max_fd; ++fd) {
    ::close(static_cast<int>(fd));
  }
}

// Reports `err` to the parent through the status pipe and ends the child.
[[noreturn]] void FailBeforeExec(int status_write, int err) {
  ssize_t ignored = ::write(status_write, &err, sizeof(err));
  (void)ignored;
  ::_exit(127);
}

[[noreturn]] void ExecChild(const ChildPlan& plan) {
  auto fail = [&plan](int err) { FailBeforeExec(plan.status_write, err); };
  // Handlers and ignored signals of the runner must not leak into the server (an ignored SIGPIPE
  // or SIGTERM would survive exec), and neither must the runner's blocked signal mask.
  struct sigaction dfl;
  std::memset(&dfl, 0, sizeof(dfl));
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &dfl, nullptr);
  }
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);

  if (::setsid() < 0) fail(errno);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) fail(errno);
  if (::getppid() != plan.parent) ::_exit(127);  // the runner died before PDEATHSIG was armed
  if (!SetLimit(RLIMIT_AS, plan.limits->address_space_bytes) ||
      !SetLimit(RLIMIT_CPU, plan.limits->cpu_seconds) ||
      !SetLimit(RLIMIT_NOFILE, plan.limits->open_files) ||
      !SetLimit(RLIMIT_NPROC, plan.limits->processes)) {
    fail(errno);
  }
  if (plan.cwd != nullptr && ::chdir(plan.cwd) != 0) fail(errno);

  // The pipe ends are all above 2, so dup2 makes fresh descriptors without close-on-exec.
  if (::dup2(plan.stdin_read, STDIN_FILENO) < 0) fail(errno);
  if (::dup2(plan.stdout_write, STDOUT_FILENO) < 0) fail(errno);
  if (::dup2(plan.stderr_write, STDERR_FILENO) < 0) fail(errno);
  const unsigned keep = static_cast<unsigned>(plan.status_write);
  CloseRange(3, keep - 1, plan.max_fd);
  CloseRange(keep + 1, ~0U, plan.max_fd);

  ::execve(plan.exe, plan.argv, plan.envp);
  FailBeforeExec(plan.status_write, errno);
}

absl::Status ExecError(const LaunchSpec& spec, int err) {
  std::string message = StrCat("cannot execute '", spec.command, "': ", ErrnoText(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(message);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(message);
    default:
      return absl::FailedPreconditionError(message);
  }
}

}  // namespace

const std::vector<std::string>& DefaultPassEnv() {
  static const std::vector<std::string> kPass = {
      "PATH",        "HOME",        "USER",          "LOGNAME",       "SHELL",    "LANG",
      "LANGUAGE",    "LC_ALL",      "LC_CTYPE",      "TZ",            "TMPDIR",   "TERM",
      "SSL_CERT_FILE", "SSL_CERT_DIR", "NODE_EXTRA_CA_CERTS", "HTTP_PROXY", "HTTPS_PROXY",
      "NO_PROXY",    "http_proxy",  "https_proxy",   "no_proxy"};
  return kPass;
}

void UniqueFd::Reset(int fd) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

ResourceLimits MergeLimits(const ResourceLimits& limits, const ResourceLimits& defaults) {
  ResourceLimits out = limits;
  if (out.address_space_bytes == 0) out.address_space_bytes = defaults.address_space_bytes;
  if (out.cpu_seconds == 0) out.cpu_seconds = defaults.cpu_seconds;
  if (out.open_files == 0) out.open_files = defaults.open_files;
  if (out.processes == 0) out.processes = defaults.processes;
  return out;
}

absl::StatusOr<LaunchedProcess> ForkExecLauncher::Launch(const LaunchSpec& spec) {
  if (spec.command.empty()) return absl::InvalidArgumentError("the server has no command");
  if (!spec.cwd.empty()) {
    struct stat st;
    if (::stat(spec.cwd.c_str(), &st) != 0) {
      return absl::FailedPreconditionError(
          StrCat("working directory '", spec.cwd, "': ", ErrnoText(errno)));
    }
    if (!S_ISDIR(st.st_mode)) {
      return absl::FailedPreconditionError(
          StrCat("working directory '", spec.cwd, "' is not a directory"));
    }
  }
  const ResourceLimits limits = MergeLimits(spec.limits, options_.limits);

  std::vector<std::string> env;
  const std::vector<std::string>& pass = options_.pass_env;
  bool pass_all = std::find(pass.begin(), pass.end(), "*") != pass.end();
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    std::string key(entry.substr(0, entry.find('=')));
    if (spec.env.count(key) != 0) continue;
    if (pass_all || std::find(pass.begin(), pass.end(), key) != pass.end()) env.emplace_back(entry);
  }
  for (const auto& [key, value] : spec.env) env.push_back(StrCat(key, "=", value));

  std::string path;
  if (auto it = spec.env.find("PATH"); it != spec.env.end()) {
    path = it->second;
  } else if (const char* p = std::getenv("PATH")) {
    path = p;
  }
  SB_ASSIGN_OR_RETURN(std::string exe, ResolveCommand(spec.command, path));

  std::vector<char*> argv;
  argv.reserve(spec.args.size() + 2);
  argv.push_back(const_cast<char*>(spec.command.c_str()));
  for (const std::string& a : spec.args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);

  UniqueFd stdin_read, stdin_write, stdout_read, stdout_write, stderr_read, stderr_write;
  UniqueFd status_read, status_write;
  SB_RETURN_IF_ERROR(MakePipe(&stdin_read, &stdin_write));
  SB_RETURN_IF_ERROR(MakePipe(&stdout_read, &stdout_write));
  SB_RETURN_IF_ERROR(MakePipe(&stderr_read, &stderr_write));
  SB_RETURN_IF_ERROR(MakePipe(&status_read, &status_write));

  long open_max = ::sysconf(_SC_OPEN_MAX);
  ChildPlan plan{
      exe.c_str(),
      argv.data(),
      envp.data(),
      stdin_read.get(),
      stdout_write.get(),
      stderr_write.get(),
      status_write.get(),
      ::getpid(),
      static_cast<int>(open_max > 0 && open_max < kMaxFdToClose ? open_max : kMaxFdToClose),
      &limits,
      spec.cwd.empty() ? nullptr : spec.cwd.c_str()};
  pid_t pid = ::fork();
  if (pid < 0) return ErrnoStatus("fork", errno);
  if (pid == 0) ExecChild(plan);

  stdin_read.Reset();
  stdout_write.Reset();
  stderr_write.Reset();
  status_write.Reset();

  // The status pipe closes on a successful exec; an errno arrives when anything before failed.
  int child_errno = 0;
  size_t got = 0;
  while (got < sizeof(child_errno)) {
    ssize_t n = ::read(status_read.get(), reinterpret_cast<char*>(&child_errno) + got,
                       sizeof(child_errno) - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  if (got > 0) {
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (got < sizeof(child_errno)) return absl::InternalError("the child failed before exec");
    return ExecError(spec, child_errno);
  }

  LaunchedProcess process;
  process.pid = pid;
  process.stdin_fd = std::move(stdin_write);
  process.stdout_fd = std::move(stdout_read);
  process.stderr_fd = std::move(stderr_read);
  // Through syscall(): Debian 12's <sys/pidfd.h> lacks C linkage. Close-on-exec by default; -1
  // on kernels without pidfd, and the exit is then polled.
  process.exit_fd.Reset(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)));
  return process;
}

absl::StatusOr<std::string> ResolveCommand(std::string_view command, std::string_view path) {
  if (command.empty()) return absl::InvalidArgumentError("the server has no command");
  if (command.find('/') != std::string_view::npos) {
    std::string file(command);
    struct stat st;
    if (::stat(file.c_str(), &st) != 0) {
      return absl::NotFoundError(StrCat("command '", command, "' does not exist"));
    }
    return file;  // execve reports anything that is not executable
  }
  if (path.empty()) path = kDefaultPath;
  size_t start = 0;
  while (true) {
    size_t colon = path.find(':', start);
    std::string_view dir = path.substr(
        start, colon == std::string_view::npos ? std::string_view::npos : colon - start);
    std::string candidate;
    if (dir.empty()) {
      candidate = StrCat("./", command);
    } else if (dir.back() == '/') {
      candidate = StrCat(dir, command);
    } else {
      candidate = StrCat(dir, "/", command);
    }
    if (IsExecutableFile(candidate)) return candidate;
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  return absl::NotFoundError(StrCat("command '", command, "' not found on PATH"));
}

bool SignalProcessGroup(pid_t pgid, int sig) {
  if (pgid <= 1) return false;  // never kill(0) or kill(-1)
  return ::kill(-pgid, sig) == 0;
}

std::optional<int> TryReap(pid_t pid) {
  if (pid <= 0) return 255 << 8;
  while (true) {
    int status = 0;
    pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r == 0) return std::nullopt;
    if (errno == EINTR) continue;
    return 255 << 8;  // not our child (any more)
  }
}

std::string DescribeWaitStatus(int wait_status) {
  if (WIFSIGNALED(wait_status)) return StrCat("signal ", WTERMSIG(wait_status));
  if (WIFEXITED(wait_status)) return StrCat("status ", WEXITSTATUS(wait_status));
  return StrCat("wait status ", wait_status);
}

}  // namespace switchboard::runner
