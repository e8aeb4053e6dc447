#include "services/runner/src/process_launcher.h"
#include "switchboard/common/strings.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/resource.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>

namespace switchboard::runner {
namespace {

constexpr int kWaitMs = 10000;

// Reads one line (without newline) from `fd`, waiting at most kWaitMs; nullopt on EOF/timeout.
class LineReader {
 public:
  explicit LineReader(int fd) : fd_(fd) {}

  std::optional<std::string> Next() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
    while (true) {
      if (size_t nl = buffer_.find('\n'); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 1);
        return line;
      }
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      if (left <= 0) return std::nullopt;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[4096];
      ssize_t n = ::read(fd_, buf, sizeof(buf));
      if (n <= 0) {
        if (buffer_.empty()) return std::nullopt;
        std::string rest = std::move(buffer_);
        buffer_.clear();
        return rest;
      }
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }

  // Everything until EOF.
  std::string All() {
    std::string out;
    while (std::optional<std::string> line = Next()) out += *line + "\n";
    return out;
  }

 private:
  int fd_;
  std::string buffer_;
};

void WriteLine(const UniqueFd& fd, std::string line) {
  line.push_back('\n');
  ASSERT_EQ(::write(fd.get(), line.data(), line.size()), static_cast<ssize_t>(line.size()));
}

// Waits for `pid` to exit and returns its wait status (nullopt after kWaitMs).
std::optional<int> WaitExit(pid_t pid) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kWaitMs);
  while (std::chrono::steady_clock::now() < deadline) {
    if (std::optional<int> status = TryReap(pid)) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return std::nullopt;
}

TEST(ProcessLauncherTest, ResolvesCommandsOnPathWithoutAShell) {
  absl::StatusOr<std::string> sh = ResolveCommand("sh", "/nonexistent-dir:/bin:/usr/bin");
  ASSERT_TRUE(sh.ok()) << sh.status();
  EXPECT_EQ(*sh, "/bin/sh");
  EXPECT_EQ(*ResolveCommand("/bin/sh", ""), "/bin/sh");
  EXPECT_TRUE(ResolveCommand("sh", "").ok());  // default system path

  absl::StatusOr<std::string> missing = ResolveCommand("sb-no-such-command", "/bin:/usr/bin");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(missing.status().message()).find("not found on PATH"), std::string::npos);
  // A directory named like the command is not an executable.
  EXPECT_EQ(ResolveCommand("bin", "/").status().code(), absl::StatusCode::kNotFound);
}

TEST(ProcessLauncherTest, ChildTalksOverPipesInItsOwnSession) {
  ForkExecLauncher launcher;
  absl::StatusOr<LaunchedProcess> p = launcher.Launch({"cat", {}, {}});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_GT(p->pid, 0);
  EXPECT_TRUE(p->exit_fd.valid());
  EXPECT_EQ(::getpgid(p->pid), p->pid);
  EXPECT_EQ(::getsid(p->pid), p->pid);
  EXPECT_NE(::getsid(p->pid), ::getsid(0));
  for (const UniqueFd* fd : {&p->stdin_fd, &p->stdout_fd, &p->stderr_fd}) {
    EXPECT_TRUE(::fcntl(fd->get(), F_GETFD) & FD_CLOEXEC);
  }

  WriteLine(p->stdin_fd, "hello");
  LineReader out(p->stdout_fd.get());
  EXPECT_EQ(out.Next(), "hello");
  p->stdin_fd.Reset();  // EOF: cat exits
  std::optional<int> status = WaitExit(p->pid);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(DescribeWaitStatus(*status), "status 0");
}

TEST(ProcessLauncherTest, ServerEnvIsItsConfigPlusOnlyThePassedOnVariables) {
  ::setenv("SB_RUNNER_TEST_A", "runner-a", 1);
  ::setenv("SB_RUNNER_TEST_B", "runner-b", 1);
  ::setenv("SB_RUNNER_SECRET", "runner-secret", 1);
  const char* script = R"(echo "[$SB_RUNNER_TEST_A][$SB_RUNNER_TEST_B][$SB_RUNNER_TEST_C][$SB_RUNNER_SECRET][${PATH:+path}]")";
  LaunchSpec spec{"sh", {"-c", script},
                  {{"SB_RUNNER_TEST_B", "server-b"}, {"SB_RUNNER_TEST_C", "server-c"}}};
  {
    // By default the runner's own variables stay out, PATH and the like excepted.
    ForkExecLauncher launcher;
    absl::StatusOr<LaunchedProcess> p = launcher.Launch(spec);
    ASSERT_TRUE(p.ok()) << p.status();
    LineReader out(p->stdout_fd.get());
    EXPECT_EQ(out.Next(), "[][server-b][server-c][][path]");
    EXPECT_TRUE(WaitExit(p->pid).has_value());
  }
  {
    // Named variables pass; the server's own value wins over the runner's.
    LauncherOptions options;
    options.pass_env = {"PATH", "SB_RUNNER_TEST_A", "SB_RUNNER_TEST_B"};
    ForkExecLauncher launcher(options);
    absl::StatusOr<LaunchedProcess> p = launcher.Launch(spec);
    ASSERT_TRUE(p.ok()) << p.status();
    LineReader out(p->stdout_fd.get());
    EXPECT_EQ(out.Next(), "[runner-a][server-b][server-c][][path]");
    EXPECT_TRUE(WaitExit(p->pid).has_value());
  }
  {
    LauncherOptions options;
    options.pass_env = {"*"};
    ForkExecLauncher launcher(options);
    absl::StatusOr<LaunchedProcess> p = launcher.Launch(spec);
    ASSERT_TRUE(p.ok()) << p.status();
    LineReader out(p->stdout_fd.get());
    EXPECT_EQ(out.Next(), "[runner-a][server-b][server-c][runner-secret][path]");
    EXPECT_TRUE(WaitExit(p->pid).has_value());
  }
  ::unsetenv("SB_RUNNER_TEST_A");
  ::unsetenv("SB_RUNNER_TEST_B");
  ::unsetenv("SB_RUNNER_SECRET");
}

TEST(ProcessLauncherTest, ResourceLimitsApplyToTheServer) {
  LauncherOptions options;
  options.limits.open_files = 64;
  options.limits.cpu_seconds = 7;
  options.limits.address_space_bytes = uint64_t{512} << 20;
  ForkExecLauncher launcher(options);
  absl::StatusOr<LaunchedProcess> p =
      launcher.Launch({"sh", {"-c", "echo $(ulimit -n) $(ulimit -t) $(ulimit -v)"}, {}});
  ASSERT_TRUE(p.ok()) << p.status();
  LineReader out(p->stdout_fd.get());
  EXPECT_EQ(out.Next(), StrCat("64 7 ", 512 * 1024));
  EXPECT_TRUE(WaitExit(p->pid).has_value());

  // The defaults leave the runner's limits alone.
  ForkExecLauncher plain;
  absl::StatusOr<LaunchedProcess> q = plain.Launch({"sh", {"-c", "ulimit -t"}, {}});
  ASSERT_TRUE(q.ok()) << q.status();
  LineReader qout(q->stdout_fd.get());
  struct rlimit cpu;
  ASSERT_EQ(::getrlimit(RLIMIT_CPU, &cpu), 0);
  EXPECT_EQ(qout.Next(), cpu.rlim_cur == RLIM_INFINITY ? "unlimited" : std::to_string(cpu.rlim_cur));
  EXPECT_TRUE(WaitExit(q->pid).has_value());
}

TEST(ProcessLauncherTest, ChildInheritsNoOtherDescriptorsAndACleanSignalState) {
  // A descriptor without close-on-exec, as a careless library might leave one.
  int leaked = ::fcntl(STDERR_FILENO, F_DUPFD, 100);
  ASSERT_GE(leaked, 100);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &block, &old);
  struct sigaction ignore {
  }, old_pipe{};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGPIPE, &ignore, &old_pipe);

  ForkExecLauncher launcher;
  absl::StatusOr<LaunchedProcess> ls =
      launcher.Launch({"sh", {"-c", "ls /proc/$$/fd | sort -n | tr '\\n' ' '"}});
  // Run directly: a shell blocks signals of its own while it waits for a pipeline.
  absl::StatusOr<LaunchedProcess> grep =
      launcher.Launch({"grep", {"-E", "^Sig(Blk|Ign)", "/proc/self/status"}});
  ::sigaction(SIGPIPE, &old_pipe, nullptr);
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  ::close(leaked);
  ASSERT_TRUE(ls.ok()) << ls.status();
  ASSERT_TRUE(grep.ok()) << grep.status();

  // The shell's descriptors: stdio, perhaps the pipe it made for `ls | sort`, never `leaked`.
  std::optional<std::string> fds = LineReader(ls->stdout_fd.get()).Next();
  ASSERT_TRUE(fds.has_value());
  EXPECT_EQ(fds->rfind("0 1 2 ", 0), 0u) << *fds;
  EXPECT_EQ((" " + *fds).find(" " + std::to_string(leaked) + " "), std::string::npos) << *fds;
  LineReader out(grep->stdout_fd.get());
  EXPECT_EQ(out.Next(), "SigBlk:\t0000000000000000");
  EXPECT_EQ(out.Next(), "SigIgn:\t0000000000000000");
  EXPECT_TRUE(WaitExit(ls->pid).has_value());
  EXPECT_TRUE(WaitExit(grep->pid).has_value());
}

TEST(ProcessLauncherTest, ExecFailureIsAnErrorNotADeadChild) {
  ForkExecLauncher launcher;
  absl::StatusOr<LaunchedProcess> missing = launcher.Launch({"sb-no-such-command", {}, {}});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(missing.status().message()).find("'sb-no-such-command' not found on PATH"),
            std::string::npos)
      << missing.status();

  // Exists, but execve refuses it.
  absl::StatusOr<LaunchedProcess> dir = launcher.Launch({"/", {}, {}});
  EXPECT_EQ(dir.status().code(), absl::StatusCode::kPermissionDenied) << dir.status();
  EXPECT_NE(std::string(dir.status().message()).find("cannot execute '/'"), std::string::npos);
}

TEST(ProcessLauncherTest, ChildDiesWithTheThreadThatLaunchedIt) {
  ForkExecLauncher launcher;
  pid_t pid = -1;
  UniqueFd keep_stdin;
  std::thread([&] {
    absl::StatusOr<LaunchedProcess> p = launcher.Launch({"cat", {}, {}});
    ASSERT_TRUE(p.ok()) << p.status();
    pid = p->pid;
    keep_stdin = std::move(p->stdin_fd);  // cat would exit on EOF otherwise
  }).join();
  ASSERT_GT(pid, 0);
  std::optional<int> status = WaitExit(pid);
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(DescribeWaitStatus(*status), "signal 9");
}

TEST(ProcessLauncherTest, SignalProcessGroupNeverTargetsEverything) {
  EXPECT_FALSE(SignalProcessGroup(0, 0));
  EXPECT_FALSE(SignalProcessGroup(1, 0));
  EXPECT_FALSE(SignalProcessGroup(-1, 0));
}

// sb-mcp-echo spoken to directly, without the runner.
class McpEchoTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<LaunchedProcess> p = launcher_.Launch({SB_MCP_ECHO_PATH, {}, {}});
    ASSERT_TRUE(p.ok()) << p.status();
    process_ = std::move(*p);
    out_.emplace(process_.stdout_fd.get());
  }
  void TearDown() override {
    process_.stdin_fd.Reset();
    std::optional<int> status = WaitExit(process_.pid);
    ASSERT_TRUE(status.has_value());
    EXPECT_EQ(DescribeWaitStatus(*status), "status 0");  // EOF ends it cleanly
  }

  boost::json::value Ask(const std::string& line) {
    WriteLine(process_.stdin_fd, line);
    std::optional<std::string> answer = out_->Next();
    if (!answer) return nullptr;
    return boost::json::parse(*answer);
  }

  ForkExecLauncher launcher_;
  LaunchedProcess process_;
  std::optional<LineReader> out_;
};

TEST_F(McpEchoTest, NegotiatesTheProtocolVersion) {
  boost::json::value r = Ask(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2024-11-05",)"
      R"("capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
  EXPECT_EQ(r.at("result").at("protocolVersion"), "2024-11-05");
  EXPECT_EQ(r.at("result").at("serverInfo").at("name"), "sb-mcp-echo");
  EXPECT_TRUE(r.at("result").at("capabilities").at("tools").is_object());
  r = Ask(
      R"({"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":"1999-01-01"}})");
  EXPECT_EQ(r.at("result").at("protocolVersion"), "2025-06-18");
}

TEST_F(McpEchoTest, AnswersRequestsAndIgnoresNotifications) {
  WriteLine(process_.stdin_fd, R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
  EXPECT_EQ(Ask(R"({"jsonrpc":"2.0","id":"p","method":"ping"})"),
            boost::json::parse(R"({"jsonrpc":"2.0","id":"p","result":{}})"));
  boost::json::value tools = Ask(R"({"jsonrpc":"2.0","id":3,"method":"tools/list"})");
  std::vector<std::string> names;
  for (const auto& t : tools.at("result").at("tools").as_array()) {
    names.emplace_back(t.at("name").as_string());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"echo", "crash", "sleep", "stderr", "notify", "sample"}));
  EXPECT_EQ(Ask(R"({"jsonrpc":"2.0","id":4,"method":"resources/list"})").at("error").at("code"),
            -32601);
  EXPECT_EQ(Ask(R"({"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"nope"}})")
                .at("error")
                .at("code"),
            -32602);
  EXPECT_EQ(Ask(R"({"jsonrpc":"2.0","id":6,"method":"tools/call",)"
                R"("params":{"name":"echo","arguments":{"message":"hi"}}})"),
            boost::json::parse(R"({"jsonrpc":"2.0","id":6,"result":{"content":[{"type":"text",)"
                               R"("text":"Echo: hi"}]}})"));
  EXPECT_EQ(Ask("not json").at("error").at("code"), -32700);
}

TEST_F(McpEchoTest, SleepAnswersLaterWithoutBlockingOthers) {
  WriteLine(process_.stdin_fd,
            R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sleep",)"
            R"("arguments":{"ms":300}}})");
  boost::json::value first = Ask(R"({"jsonrpc":"2.0","id":2,"method":"ping"})");
  EXPECT_EQ(first.at("id"), 2);
  std::optional<std::string> later = out_->Next();
  ASSERT_TRUE(later.has_value());
  boost::json::value slept = boost::json::parse(*later);
  EXPECT_EQ(slept.at("id"), 1);
  EXPECT_EQ(slept.at("result").at("content").at(0).at("text"), "Slept 300 ms");
}

}  // namespace
}  // namespace switchboard::runner
