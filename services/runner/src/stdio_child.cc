#include "services/runner/src/stdio_child.h"

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <array>
#include <boost/asio/write.hpp>
#include <cerrno>

#include "switchboard/common/log.h"

namespace switchboard::runner {
namespace {

namespace asio = boost::asio;
using boost::system::error_code;

constexpr size_t kReadBufferBytes = size_t{64} * 1024;
constexpr size_t kMaxStderrLineBytes = 4096;
constexpr size_t kMinQueuedBytes = size_t{1024} * 1024;
constexpr auto kEofWaitAfterExit = std::chrono::milliseconds(500);
constexpr auto kExitPollInterval = std::chrono::milliseconds(50);
constexpr double kStderrLinesPerSecond = 100;
constexpr double kStderrBurst = 500;

}  // namespace

StdioChild::StdioChild(asio::io_context& io, std::string server, LaunchedProcess process,
                       size_t max_line_bytes, std::chrono::milliseconds stop_grace,
                       Callbacks callbacks)
    : server_(std::move(server)),
      pid_(process.pid),
      max_line_bytes_(max_line_bytes),
      max_queued_bytes_(std::max(4 * max_line_bytes, kMinQueuedBytes)),
      stop_grace_(stop_grace),
      callbacks_(std::move(callbacks)),
      stdin_(io, process.stdin_fd.Release()),
      stdout_(io, process.stdout_fd.Release()),
      stderr_(io, process.stderr_fd.Release()),
      exit_fd_(io),
      kill_timer_(io),
      eof_timer_(io),
      poll_timer_(io),
      stdout_buf_(kReadBufferBytes),
      stderr_buf_(kReadBufferBytes),
      stderr_limit_(kStderrLinesPerSecond, kStderrBurst),
      drop_limit_(1, 10) {
  if (process.exit_fd.valid()) exit_fd_.assign(process.exit_fd.Release());
}

StdioChild::~StdioChild() {
  if (exited_) return;
  SignalProcessGroup(pid_, SIGKILL);
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
  }
}

void StdioChild::Start() {
  ReadStdout();
  ReadStderr();
  WatchExit();
}

void StdioChild::ReadStdout() {
  stdout_.async_read_some(asio::buffer(stdout_buf_),
                          [self = shared_from_this()](const error_code& ec, size_t n) {
                            if (self->finished_) return;
                            if (ec) {
                              if (!self->discarding_ && !self->line_.empty()) {
                                std::string last = std::move(self->line_);
                                self->line_.clear();
                                self->EmitLine(last);
                              }
                              self->stdout_eof_ = true;
                              // A server whose stdout is gone cannot answer anybody any more.
                              if (!self->exited_) self->Stop(self->stop_grace_);
                              self->MaybeFinish();
                              return;
                            }
                            self->OnStdout(n);
                            if (!self->finished_) self->ReadStdout();
                          });
}

void StdioChild::OnStdout(size_t n) {
  std::string_view chunk(stdout_buf_.data(), n);
  while (!chunk.empty() && !finished_) {
    size_t nl = chunk.find('\n');
    if (nl == std::string_view::npos) {
      if (discarding_) return;
      if (line_.size() + chunk.size() > max_line_bytes_) {
        DropLongLine(line_.size() + chunk.size());
        line_.clear();
        line_.shrink_to_fit();
        discarding_ = true;
      } else {
        line_.append(chunk);
      }
      return;
    }
    std::string_view piece = chunk.substr(0, nl);
    chunk.remove_prefix(nl + 1);
    if (discarding_) {
      discarding_ = false;
      continue;
    }
    if (line_.empty()) {
      EmitLine(piece);
      continue;
    }
    if (line_.size() + piece.size() > max_line_bytes_) {
      DropLongLine(line_.size() + piece.size());
      line_.clear();
      line_.shrink_to_fit();
      continue;
    }
    line_.append(piece);
    std::string line = std::move(line_);
    line_.clear();
    EmitLine(line);
  }
}

void StdioChild::EmitLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (line.size() > max_line_bytes_) {
    DropLongLine(line.size());
    return;
  }
  if (line.find_first_not_of(" \t") == std::string_view::npos) return;
  if (callbacks_.on_line) callbacks_.on_line(this, line);
}

void StdioChild::DropLongLine(size_t bytes) {
  if (!drop_limit_.Allow(RateLimiter::Clock::now())) return;
  log::Warn("dropped a stdout line longer than max_line_bytes",
            {{"server", server_},
             {"pid", static_cast<int64_t>(pid_)},
             {"bytes_at_least", static_cast<uint64_t>(bytes)},
             {"max_line_bytes", static_cast<uint64_t>(max_line_bytes_)},
             {"dropped_before", drop_limit_.TakeSuppressed()}});
}

void StdioChild::ReadStderr() {
  stderr_.async_read_some(asio::buffer(stderr_buf_),
                          [self = shared_from_this()](const error_code& ec, size_t n) {
                            if (self->finished_ || ec) return;
                            self->OnStderr(n);
                            self->ReadStderr();
                          });
}

void StdioChild::OnStderr(size_t n) {
  std::string_view chunk(stderr_buf_.data(), n);
  while (!chunk.empty()) {
    size_t nl = chunk.find('\n');
    std::string_view piece = chunk.substr(0, nl);
    if (stderr_discarding_) {
      if (nl == std::string_view::npos) return;
      stderr_discarding_ = false;
      chunk.remove_prefix(nl + 1);
      continue;
    }
    size_t room = kMaxStderrLineBytes - stderr_line_.size();
    if (piece.size() > room) {
      // Log the first kMaxStderrLineBytes of an over-long line and skip the rest of it.
      stderr_line_.append(piece.substr(0, room));
      LogStderr(stderr_line_, true);
      stderr_line_.clear();
      if (nl == std::string_view::npos) {
        stderr_discarding_ = true;
        return;
      }
      chunk.remove_prefix(nl + 1);
      continue;
    }
    stderr_line_.append(piece);
    if (nl == std::string_view::npos) return;
    LogStderr(stderr_line_, false);
    stderr_line_.clear();
    chunk.remove_prefix(nl + 1);
  }
}

void StdioChild::LogStderr(std::string_view line, bool truncated) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::string masked;
  if (callbacks_.on_stderr) {
    masked = callbacks_.on_stderr(line);
    line = masked;
  }
  if (!stderr_limit_.Allow(RateLimiter::Clock::now())) return;
  if (uint64_t suppressed = stderr_limit_.TakeSuppressed(); suppressed > 0) {
    log::Debug("server stderr lines suppressed",
               {{"server", server_}, {"pid", static_cast<int64_t>(pid_)}, {"lines", suppressed}});
  }
  log::Debug("server stderr", {{"server", server_},
                               {"pid", static_cast<int64_t>(pid_)},
                               {"line", line},
                               {"truncated", truncated}});
}

void StdioChild::WatchExit() {
  auto self = shared_from_this();
  if (exit_fd_.is_open()) {
    exit_fd_.async_wait(asio::posix::descriptor_base::wait_read, [self](const error_code& ec) {
      if (ec || self->exited_) return;
      // The exited leader is a zombie until reaped, so its group id cannot be reused yet: kill
      // whatever it left behind in its group first.
      SignalProcessGroup(self->pid_, SIGKILL);
      if (std::optional<int> status = TryReap(self->pid_)) {
        self->OnExited(*status);
      } else {
        error_code ignored;
        self->exit_fd_.close(ignored);  // fall back to polling
        self->WatchExit();
      }
    });
    return;
  }
  poll_timer_.expires_after(kExitPollInterval);
  poll_timer_.async_wait([self](const error_code& ec) {
    if (ec || self->exited_) return;
    if (std::optional<int> status = TryReap(self->pid_)) {
      SignalProcessGroup(self->pid_, SIGKILL);
      self->OnExited(*status);
    } else {
      self->WatchExit();
    }
  });
}

void StdioChild::OnExited(int wait_status) {
  exited_ = true;
  wait_status_ = wait_status;
  kill_timer_.cancel();
  if (!stdout_eof_) {
    // Give the reader a moment to take what the child wrote last; a descendant that escaped
    // the group could hold the pipe open for ever.
    eof_timer_.expires_after(kEofWaitAfterExit);
    eof_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
      if (ec || self->finished_) return;
      self->stdout_eof_ = true;
      self->MaybeFinish();
    });
  }
  MaybeFinish();
}

void StdioChild::MaybeFinish() {
  if (finished_ || !exited_ || !stdout_eof_) return;
  finished_ = true;
  error_code ignored;
  stdin_.close(ignored);
  stdout_.close(ignored);
  stderr_.close(ignored);
  exit_fd_.close(ignored);
  kill_timer_.cancel();
  eof_timer_.cancel();
  poll_timer_.cancel();
  auto on_exit = std::move(callbacks_.on_exit);
  callbacks_ = Callbacks{};
  if (on_exit) on_exit(this, wait_status_);
}

bool StdioChild::Write(std::string line) {
  if (finished_ || !stdin_.is_open()) return false;
  // The newline goes out as a second buffer of the same write: appending it here would
  // reallocate and copy most messages, which are built to their exact size.
  if (queued_bytes_ + line.size() + 1 > max_queued_bytes_) return false;
  queued_bytes_ += line.size() + 1;
  writes_.push_back(std::move(line));
  if (!writing_) WriteNext();
  return true;
}

void StdioChild::WriteNext() {
  writing_ = true;
  // deque::push_back keeps references valid, so the front string stays put while it is written.
  static constexpr char kNewline = '\n';
  std::array<asio::const_buffer, 2> line{asio::buffer(writes_.front()),
                                         asio::buffer(&kNewline, 1)};
  asio::async_write(stdin_, line,
                    [self = shared_from_this()](const error_code& ec, size_t) {
                      self->writing_ = false;
                      if (ec) {
                        if (ec != asio::error::operation_aborted) {
                          log::Debug("server stdin closed",
                                     {{"server", self->server_},
                                      {"pid", static_cast<int64_t>(self->pid_)},
                                      {"error", ec.message()}});
                        }
                        error_code ignored;
                        self->stdin_.close(ignored);
                        self->writes_.clear();
                        self->queued_bytes_ = 0;
                        return;
                      }
                      self->queued_bytes_ -= self->writes_.front().size() + 1;
                      self->writes_.pop_front();
                      if (!self->writes_.empty() && self->stdin_.is_open()) self->WriteNext();
                    });
}

void StdioChild::Stop(std::chrono::milliseconds grace) {
  if (exited_) return;
  // MCP's STDIO shutdown: end the input, SIGTERM, then SIGKILL.
  error_code ignored;
  stdin_.close(ignored);
  if (grace.count() <= 0) {
    Kill();
    return;
  }
  SignalProcessGroup(pid_, SIGTERM);
  kill_timer_.expires_after(grace);
  kill_timer_.async_wait([self = shared_from_this()](const error_code& ec) {
    if (!ec) self->Kill();
  });
}

void StdioChild::Kill() {
  if (!exited_) SignalProcessGroup(pid_, SIGKILL);
}

}  // namespace switchboard::runner
