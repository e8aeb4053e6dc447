#include "tools/sb-load/src/stdio_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "switchboard/common/strings.h"

extern char** environ;

namespace switchboard::load {
namespace {

void CloseFd(int* fd) {
  if (*fd >= 0) ::close(*fd);
  *fd = -1;
}

}  // namespace

absl::StatusOr<std::unique_ptr<StdioProcess>> StdioProcess::Start(
    const std::vector<std::string>& argv, bool quiet_stderr) {
  if (argv.empty()) return absl::InvalidArgumentError("no command");
  int to_child[2];
  int from_child[2];
  if (::pipe2(to_child, O_CLOEXEC) != 0) {
    return absl::InternalError(StrCat("pipe: ", std::strerror(errno)));
  }
  if (::pipe2(from_child, O_CLOEXEC) != 0) {
    int saved = errno;
    ::close(to_child[0]);
    ::close(to_child[1]);
    return absl::InternalError(StrCat("pipe: ", std::strerror(saved)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
  if (quiet_stderr) {
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(to_child[0]);
  ::close(from_child[1]);
  if (rc != 0) {
    ::close(to_child[1]);
    ::close(from_child[0]);
    return absl::NotFoundError(StrCat("cannot start '", argv[0], "': ", std::strerror(rc)));
  }
  return std::unique_ptr<StdioProcess>(new StdioProcess(pid, to_child[1], from_child[0]));
}

StdioProcess::~StdioProcess() {
  CloseFd(&in_fd_);
  CloseFd(&out_fd_);
  Wait(std::chrono::seconds(1));
}

int StdioProcess::ReleaseStdin() {
  int fd = in_fd_;
  in_fd_ = -1;
  return fd;
}

int StdioProcess::ReleaseStdout() {
  int fd = out_fd_;
  out_fd_ = -1;
  return fd;
}

bool StdioProcess::Write(std::string_view data) {
  while (!data.empty()) {
    if (in_fd_ < 0) return false;
    ssize_t n = ::write(in_fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

void StdioProcess::CloseStdin() { CloseFd(&in_fd_); }

std::optional<std::string> StdioProcess::ReadLine(std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    size_t nl = pending_.find('\n');
    if (nl != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      return line;
    }
    if (out_fd_ < 0) return std::nullopt;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return std::nullopt;
    pollfd p{out_fd_, POLLIN, 0};
    int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) return std::nullopt;
    char buf[64 * 1024];
    ssize_t n = ::read(out_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return std::nullopt;
    pending_.append(buf, static_cast<size_t>(n));
  }
}

int StdioProcess::Wait(std::chrono::milliseconds grace) {
  if (reaped_) return -1;
  auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  while (true) {
    pid_t done = ::waitpid(pid_, &status, WNOHANG);
    if (done == pid_ || (done < 0 && errno != EINTR)) break;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid_, SIGKILL);
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  reaped_ = true;
  return status;
}

}  // namespace switchboard::load
