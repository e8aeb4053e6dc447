#include "tools/sb-load/src/options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>

#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"

namespace switchboard::load {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr char kUrl[] = "http://127.0.0.1:12008/metamcp/demo/mcp";

absl::StatusOr<Options> Parse(std::vector<std::string> args, const char* env_key = nullptr) {
  return ParseArgs(args, env_key);
}

std::string ErrorOf(std::vector<std::string> args) {
  absl::StatusOr<Options> options = Parse(std::move(args));
  EXPECT_FALSE(options.ok());
  if (options.ok()) return "";
  EXPECT_EQ(options.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(MessageOf(options.status()));
}

TEST(OptionsTest, Defaults) {
  absl::StatusOr<Options> o = Parse({kUrl});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->url, kUrl);
  EXPECT_EQ(o->http.host, "127.0.0.1");
  EXPECT_EQ(o->http.port, "12008");
  EXPECT_EQ(o->http.target, "/metamcp/demo/mcp");
  EXPECT_EQ(o->connections, 1);
  EXPECT_EQ(o->duration, std::chrono::seconds(10));
  EXPECT_EQ(o->warmup.count(), 0);
  EXPECT_EQ(o->requests, 0u);
  EXPECT_EQ(o->tool, "everything__echo");
  EXPECT_EQ(o->rate, 0);
  EXPECT_EQ(o->timeout, std::chrono::seconds(10));
  ASSERT_EQ(o->mix.size(), 1u);
  EXPECT_EQ(o->mix[0].kind, RequestKind::kCall);
  EXPECT_FALSE(o->json);
  EXPECT_EQ(o->key, "");
}

TEST(OptionsTest, EveryFlag) {
  absl::StatusOr<Options> o = Parse({"--url=http://localhost/x/mcp?a=1",
                                     "--key",
                                     "k1",
                                     "--connections",
                                     "64",
                                     "--duration",
                                     "2.5s",
                                     "--requests",
                                     "1000",
                                     "--warmup",
                                     "500ms",
                                     "--mix",
                                     "call=95,list=5,ping=0",
                                     "--tool",
                                     "echo-c__echo",
                                     "--rate",
                                     "2000",
                                     "--timeout",
                                     "1m",
                                     "--pids",
                                     "12,34",
                                     "--json",
                                     "--label",
                                     "x",
                                     "--protocol-version",
                                     "2025-03-26"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->http.host, "localhost");
  EXPECT_EQ(o->http.port, "80");
  EXPECT_EQ(o->http.target, "/x/mcp?a=1");
  EXPECT_EQ(o->key, "k1");
  EXPECT_EQ(o->connections, 64);
  EXPECT_EQ(o->duration, std::chrono::milliseconds(2500));
  EXPECT_EQ(o->requests, 1000u);
  EXPECT_EQ(o->warmup, std::chrono::milliseconds(500));
  ASSERT_EQ(o->mix.size(), 2u);  // a zero weight is dropped
  EXPECT_EQ(o->mix[0].kind, RequestKind::kCall);
  EXPECT_EQ(o->mix[0].weight, 95);
  EXPECT_EQ(o->mix[1].kind, RequestKind::kList);
  EXPECT_EQ(o->tool, "echo-c__echo");
  EXPECT_EQ(o->rate, 2000);
  EXPECT_EQ(o->timeout, std::chrono::minutes(1));
  EXPECT_EQ(o->pids, (std::vector<int>{12, 34}));
  EXPECT_TRUE(o->json);
  EXPECT_EQ(o->label, "x");
  EXPECT_EQ(o->protocol_version, "2025-03-26");
}

TEST(OptionsTest, KeyFromTheEnvironmentUnlessGiven) {
  EXPECT_EQ(Parse({kUrl}, "from-env")->key, "from-env");
  EXPECT_EQ(Parse({kUrl, "--key", "flag"}, "from-env")->key, "flag");
}

TEST(OptionsTest, StdioMode) {
  absl::StatusOr<Options> o =
      Parse({"--stdio", "  /bin/sb-echo-c  --flag x ", "--connections", "8"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->stdio_command, (std::vector<std::string>{"/bin/sb-echo-c", "--flag", "x"}));
  EXPECT_EQ(o->tool, "echo");
  EXPECT_TRUE(o->url.empty());
}

TEST(OptionsTest, IdleMode) {
  absl::StatusOr<Options> o = Parse({kUrl, "--idle-sessions", "1000", "--hold", "5s"});
  ASSERT_TRUE(o.ok()) << o.status();
  EXPECT_EQ(o->idle_sessions, 1000);
  EXPECT_EQ(o->hold, std::chrono::seconds(5));
}

TEST(OptionsTest, Durations) {
  EXPECT_EQ(*ParseDuration("10s"), std::chrono::seconds(10));
  EXPECT_EQ(*ParseDuration("10"), std::chrono::seconds(10));
  EXPECT_EQ(*ParseDuration("250ms"), std::chrono::milliseconds(250));
  EXPECT_EQ(*ParseDuration("1.5s"), std::chrono::milliseconds(1500));
  EXPECT_EQ(*ParseDuration("2m"), std::chrono::minutes(2));
  EXPECT_EQ(*ParseDuration("500us"), std::chrono::microseconds(500));
  EXPECT_EQ(*ParseDuration("1h"), std::chrono::hours(1));
  EXPECT_FALSE(ParseDuration("").ok());
  EXPECT_FALSE(ParseDuration("s").ok());
  EXPECT_FALSE(ParseDuration("10x").ok());
  EXPECT_FALSE(ParseDuration("-1s").ok());
  EXPECT_FALSE(ParseDuration("1e30s").ok());
}

TEST(OptionsTest, BadArgumentsSayWhatIsWrong) {
  EXPECT_THAT(ErrorOf({}), HasSubstr("no target"));
  EXPECT_THAT(ErrorOf({kUrl, "--bogus"}), HasSubstr("unknown flag '--bogus'"));
  EXPECT_THAT(ErrorOf({kUrl, "--connections"}), HasSubstr("--connections needs a value"));
  EXPECT_THAT(ErrorOf({kUrl, "--connections", "0"}), HasSubstr("--connections: '0'"));
  EXPECT_THAT(ErrorOf({kUrl, "--connections", "eight"}), HasSubstr("--connections"));
  EXPECT_THAT(ErrorOf({kUrl, "--duration", "10x"}), HasSubstr("--duration"));
  EXPECT_THAT(ErrorOf({kUrl, "--duration", "0s"}), HasSubstr("--duration: must be more than 0"));
  EXPECT_THAT(ErrorOf({kUrl, "--duration", "2h"}), HasSubstr("longer than 1h"));
  EXPECT_THAT(ErrorOf({kUrl, "--mix", "call"}), HasSubstr("KIND=WEIGHT"));
  EXPECT_THAT(ErrorOf({kUrl, "--mix", "call=1,write=2"}), HasSubstr("unknown kind 'write'"));
  EXPECT_THAT(ErrorOf({kUrl, "--mix", "call=0"}), HasSubstr("add up to 0"));
  EXPECT_THAT(ErrorOf({kUrl, "--mix", "call=1,call=2"}), HasSubstr("given twice"));
  EXPECT_THAT(ErrorOf({kUrl, "--rate", "0"}), HasSubstr("--rate"));
  EXPECT_THAT(ErrorOf({kUrl, "--pids", "1,x"}), HasSubstr("--pids"));
  EXPECT_THAT(ErrorOf({kUrl, "--key", "a", "--key", "b"}), HasSubstr("--key given twice"));
  EXPECT_THAT(ErrorOf({kUrl, kUrl}), HasSubstr("unexpected argument"));
  EXPECT_THAT(ErrorOf({"https://127.0.0.1/mcp"}), HasSubstr("only http://"));
  EXPECT_THAT(ErrorOf({"not a url"}), HasSubstr("not a URL"));
  EXPECT_THAT(ErrorOf({kUrl, "--stdio", "x"}), HasSubstr("not both"));
  EXPECT_THAT(ErrorOf({"--stdio", "x", "--key", "k"}), HasSubstr("--key does not apply"));
  EXPECT_THAT(ErrorOf({kUrl, "--hold", "1s"}), HasSubstr("only with --idle-sessions"));
  EXPECT_THAT(ErrorOf({"--stdio", "x", "--idle-sessions", "3"}), HasSubstr("needs a URL"));
  EXPECT_THAT(ErrorOf({kUrl, "--idle-sessions", "3", "--rate", "5"}), HasSubstr("sends no load"));
  EXPECT_THAT(ErrorOf({kUrl, "--requests", "0"}), HasSubstr("--requests"));
}

TEST(OptionsTest, Help) {
  EXPECT_TRUE(Parse({"--help"})->help);
  EXPECT_TRUE(Parse({kUrl, "-h"})->help);
  EXPECT_THAT(Usage(), HasSubstr("--connections"));
}

// Runs the sb-load binary; returns its exit status and what it wrote to stderr.
std::pair<int, std::string> RunBinary(const std::string& args) {
  std::string command = StrCat(SB_LOAD_BIN, " ", args, " 2>&1 >/dev/null");
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return {-1, ""};
  std::string output;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), pipe)) > 0) output.append(buf, n);
  int status = ::pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(OptionsTest, BinaryExitsTwoWithOneClearLine) {
  auto [status, output] = RunBinary("--connections 0 http://127.0.0.1:1/mcp");
  EXPECT_EQ(status, 2);
  EXPECT_THAT(output, StartsWith("sb-load: --connections: '0' is not an integer from 1 to 10000"));
  EXPECT_EQ(std::count(output.begin(), output.end(), '\n'), 1) << output;

  auto [status2, output2] = RunBinary("--frobnicate");
  EXPECT_EQ(status2, 2);
  EXPECT_THAT(output2, StartsWith("sb-load: unknown flag '--frobnicate'"));
  EXPECT_EQ(std::count(output2.begin(), output2.end(), '\n'), 1) << output2;
}

TEST(OptionsTest, BinaryHelpExitsZero) {
  auto [status, output] = RunBinary("--help");
  EXPECT_EQ(status, 0);
  EXPECT_EQ(output, "");  // help goes to stdout
}

}  // namespace
}  // namespace switchboard::load
