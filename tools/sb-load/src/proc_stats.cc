#include "tools/sb-load/src/proc_stats.h"

#include <sys/resource.h>
#include <unistd.h>

#include <charconv>
#include <fstream>
#include <sstream>

#include "switchboard/common/strings.h"

namespace switchboard::load {
namespace {

std::optional<std::string> ReadProcFile(int pid, std::string_view name) {
  std::ifstream in(StrCat("/proc/", pid, "/", name));
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<uint64_t> ParseUint(std::string_view text) {
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::optional<uint64_t> ParseStatCpuTicks(std::string_view stat) {
  size_t paren = stat.rfind(')');
  if (paren == std::string_view::npos) return std::nullopt;
  std::string_view rest = stat.substr(paren + 1);
  // After the command come field 3 (state) onwards; utime and stime are fields 14 and 15.
  uint64_t ticks = 0;
  int field = 2;
  while (!rest.empty()) {
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) break;
    size_t end = rest.find(' ');
    std::string_view token = rest.substr(0, end);
    ++field;
    if (field == 14 || field == 15) {
      std::optional<uint64_t> value = ParseUint(token);
      if (!value) return std::nullopt;
      ticks += *value;
      if (field == 15) return ticks;
    }
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end);
  }
  return std::nullopt;
}

std::optional<uint64_t> ParseStatusRssKb(std::string_view status) {
  constexpr std::string_view kKey = "VmRSS:";
  size_t at = status.find(kKey);
  if (at == std::string_view::npos || (at > 0 && status[at - 1] != '\n')) return std::nullopt;
  std::string_view rest = status.substr(at + kKey.size());
  rest = rest.substr(0, rest.find('\n'));
  while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
  size_t end = rest.find(' ');
  return ParseUint(rest.substr(0, end));
}

absl::StatusOr<uint64_t> ProcessCpuMicros(int pid) {
  std::optional<std::string> stat = ReadProcFile(pid, "stat");
  if (!stat) return absl::NotFoundError(StrCat("process ", pid, " is not running"));
  std::optional<uint64_t> ticks = ParseStatCpuTicks(*stat);
  if (!ticks) return absl::InternalError(StrCat("cannot parse /proc/", pid, "/stat"));
  static const long kTicksPerSecond = sysconf(_SC_CLK_TCK);
  return *ticks * 1000000 / static_cast<uint64_t>(kTicksPerSecond > 0 ? kTicksPerSecond : 100);
}

absl::StatusOr<uint64_t> ProcessRssKb(int pid) {
  std::optional<std::string> status = ReadProcFile(pid, "status");
  if (!status) return absl::NotFoundError(StrCat("process ", pid, " is not running"));
  std::optional<uint64_t> rss = ParseStatusRssKb(*status);
  if (!rss) return absl::InternalError(StrCat("no VmRSS in /proc/", pid, "/status"));
  return *rss;
}

std::string ProcessName(int pid) {
  std::optional<std::string> comm = ReadProcFile(pid, "comm");
  if (!comm) return "?";
  while (!comm->empty() && comm->back() == '\n') comm->pop_back();
  return *comm;
}

uint64_t SelfCpuMicros() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  auto micros = [](const timeval& tv) {
    return static_cast<uint64_t>(tv.tv_sec) * 1000000 + static_cast<uint64_t>(tv.tv_usec);
  };
  return micros(usage.ru_utime) + micros(usage.ru_stime);
}

}  // namespace switchboard::load
