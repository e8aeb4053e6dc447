#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace switchboard::load {

// CPU time (user + system, all threads) process `pid` has used so far, in microseconds, from
// /proc/<pid>/stat. The kernel counts it in clock ticks (usually 10 ms).
absl::StatusOr<uint64_t> ProcessCpuMicros(int pid);

// Resident set size of process `pid` in kB, from /proc/<pid>/status (VmRSS).
absl::StatusOr<uint64_t> ProcessRssKb(int pid);

// The process's command name (/proc/<pid>/comm), or "?" when it cannot be read.
std::string ProcessName(int pid);

// CPU time this process has used so far (user + system), in microseconds.
uint64_t SelfCpuMicros();

// utime + stime, in clock ticks, from the text of a /proc/<pid>/stat file; nullopt when it does
// not parse. (The command name may hold spaces and parentheses: fields are counted after the
// last ')'.)
std::optional<uint64_t> ParseStatCpuTicks(std::string_view stat);

// The VmRSS figure (kB) of a /proc/<pid>/status text; nullopt when absent.
std::optional<uint64_t> ParseStatusRssKb(std::string_view status);

}  // namespace switchboard::load
