#include "tools/sb-load/src/options.h"

#include <boost/url/parse.hpp>
#include <charconv>
#include <cmath>
#include <map>
#include <set>

#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"

namespace switchboard::load {
namespace {

constexpr int kMaxConnections = 10000;
constexpr int kMaxIdleSessions = 100000;
constexpr auto kMaxDuration = std::chrono::hours(1);

absl::Status Bad(std::string message) { return absl::InvalidArgumentError(message); }

// Flags that take a value, and flags that do not.
const std::set<std::string_view>& ValueFlags() {
  static const std::set<std::string_view> kFlags = {
      "--url",    "--key",   "--connections",   "--duration", "--requests",
      "--warmup", "--mix",   "--tool",          "--rate",     "--timeout",
      "--pids",   "--stdio", "--idle-sessions", "--hold",     "--protocol-version",
      "--label"};
  return kFlags;
}

template <typename T>
absl::StatusOr<T> ParseInteger(std::string_view flag, std::string_view text, T low, T high) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < low || value > high) {
    return Bad(StrCat(flag, ": '", text, "' is not an integer from ", low, " to ", high));
  }
  return value;
}

absl::StatusOr<double> ParseNumber(std::string_view text) {
  double value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || !std::isfinite(value)) {
    return Bad(StrCat("'", text, "' is not a number"));
  }
  return value;
}

absl::StatusOr<std::chrono::nanoseconds> ParseBoundedDuration(std::string_view flag,
                                                              std::string_view text, bool zero_ok) {
  absl::StatusOr<std::chrono::nanoseconds> d = ParseDuration(text);
  if (!d.ok()) return Bad(StrCat(flag, ": ", MessageOf(d.status())));
  if (*d > kMaxDuration) return Bad(StrCat(flag, ": '", text, "' is longer than 1h"));
  if (!zero_ok && d->count() == 0) return Bad(StrCat(flag, ": must be more than 0"));
  return *d;
}

absl::StatusOr<std::vector<MixEntry>> ParseMix(std::string_view text) {
  static const std::map<std::string_view, RequestKind> kKinds = {
      {"call", RequestKind::kCall}, {"list", RequestKind::kList}, {"ping", RequestKind::kPing}};
  std::vector<MixEntry> mix;
  std::set<RequestKind> seen;
  int total = 0;
  while (true) {
    size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) {
      return Bad(StrCat("--mix: '", item, "' is not KIND=WEIGHT (kinds: call, list, ping)"));
    }
    auto kind = kKinds.find(item.substr(0, eq));
    if (kind == kKinds.end()) {
      return Bad(StrCat("--mix: unknown kind '", item.substr(0, eq), "' (call, list, ping)"));
    }
    if (!seen.insert(kind->second).second) {
      return Bad(StrCat("--mix: '", kind->first, "' given twice"));
    }
    absl::StatusOr<int> weight = ParseInteger<int>("--mix", item.substr(eq + 1), 0, 1000000);
    if (!weight.ok()) return weight.status();
    total += *weight;
    if (*weight > 0) mix.push_back({kind->second, *weight});
    if (comma == std::string_view::npos) break;
    text.remove_prefix(comma + 1);
  }
  if (total == 0) return Bad("--mix: the weights add up to 0");
  return mix;
}

absl::StatusOr<HttpTarget> ParseUrl(std::string_view url) {
  auto parsed = boost::urls::parse_uri(boost::core::string_view(url.data(), url.size()));
  if (!parsed) return Bad(StrCat("'", url, "' is not a URL"));
  if (parsed->scheme() != "http") {
    return Bad(StrCat("'", url, "': only http:// URLs are supported"));
  }
  HttpTarget target;
  boost::core::string_view host = parsed->encoded_host_address();
  if (host.empty()) return Bad(StrCat("'", url, "' has no host"));
  target.host = std::string(host);
  if (target.host.size() >= 2 && target.host.front() == '[') {
    target.host = target.host.substr(1, target.host.size() - 2);
  }
  target.port = parsed->has_port() ? std::string(parsed->port()) : "80";
  target.target = std::string(parsed->encoded_path());
  if (target.target.empty()) target.target = "/";
  if (parsed->has_query()) target.target += StrCat("?", std::string(parsed->encoded_query()));
  return target;
}

std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
    if (i > start) words.emplace_back(text.substr(start, i - start));
  }
  return words;
}

}  // namespace

absl::StatusOr<std::chrono::nanoseconds> ParseDuration(std::string_view text) {
  static const std::pair<std::string_view, double> kUnits[] = {
      {"ms", 1e6}, {"us", 1e3}, {"ns", 1}, {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
  double scale = 1e9;
  std::string_view number = text;
  for (const auto& [suffix, nanos] : kUnits) {
    if (text.size() > suffix.size() && text.substr(text.size() - suffix.size()) == suffix) {
      number = text.substr(0, text.size() - suffix.size());
      scale = nanos;
      break;
    }
  }
  absl::StatusOr<double> value = ParseNumber(number);
  if (!value.ok() || *value < 0) {
    return Bad(StrCat("'", text, "' is not a duration such as 10s, 250ms or 2m"));
  }
  double nanos = *value * scale;
  if (nanos > 1e18) return Bad(StrCat("'", text, "' is too long"));
  return std::chrono::nanoseconds(static_cast<int64_t>(std::llround(nanos)));
}

absl::StatusOr<Options> ParseArgs(const std::vector<std::string>& args, const char* env_key) {
  Options options;
  std::map<std::string, std::string, std::less<>> values;
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      options.help = true;
      return options;
    }
    if (arg == "--json") {
      options.json = true;
      continue;
    }
    if (arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
      positional.push_back(arg);
      continue;
    }
    size_t eq = arg.find('=');
    std::string flag = arg.substr(0, eq);
    if (!ValueFlags().count(flag)) return Bad(StrCat("unknown flag '", flag, "'"));
    std::string value;
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
    } else {
      if (i + 1 >= args.size()) return Bad(StrCat(flag, " needs a value"));
      value = args[++i];
    }
    if (value.empty()) return Bad(StrCat(flag, " needs a value"));
    if (!values.emplace(flag, value).second) return Bad(StrCat(flag, " given twice"));
  }
  if (positional.size() > 1) return Bad(StrCat("unexpected argument '", positional[1], "'"));
  if (!positional.empty()) {
    if (values.count("--url")) return Bad("give the URL once (--url or as an argument)");
    values["--url"] = positional[0];
  }

  auto has = [&](std::string_view flag) { return values.find(flag) != values.end(); };
  auto get = [&](std::string_view flag) -> const std::string& { return values.find(flag)->second; };

  if (has("--stdio")) {
    if (has("--url")) return Bad("give either a URL or --stdio, not both");
    options.stdio_command = SplitWords(get("--stdio"));
    if (options.stdio_command.empty()) return Bad("--stdio needs a command");
  } else if (has("--url")) {
    options.url = get("--url");
    absl::StatusOr<HttpTarget> target = ParseUrl(options.url);
    if (!target.ok()) return target.status();
    options.http = std::move(*target);
  } else {
    return Bad("no target: give a URL (http://127.0.0.1:12008/metamcp/NAME/mcp) or --stdio CMD");
  }

  if (has("--key")) {
    options.key = get("--key");
  } else if (env_key != nullptr) {
    options.key = env_key;
  }
  if (!options.stdio_command.empty() && has("--key")) {
    return Bad("--key does not apply to --stdio");
  }
  if (has("--connections")) {
    absl::StatusOr<int> n =
        ParseInteger<int>("--connections", get("--connections"), 1, kMaxConnections);
    if (!n.ok()) return n.status();
    options.connections = *n;
  }
  if (has("--duration")) {
    auto d = ParseBoundedDuration("--duration", get("--duration"), false);
    if (!d.ok()) return d.status();
    options.duration = *d;
  }
  if (has("--warmup")) {
    auto d = ParseBoundedDuration("--warmup", get("--warmup"), true);
    if (!d.ok()) return d.status();
    options.warmup = *d;
  }
  if (has("--timeout")) {
    auto d = ParseBoundedDuration("--timeout", get("--timeout"), false);
    if (!d.ok()) return d.status();
    options.timeout = *d;
  }
  if (has("--hold")) {
    auto d = ParseBoundedDuration("--hold", get("--hold"), true);
    if (!d.ok()) return d.status();
    options.hold = *d;
  }
  if (has("--requests")) {
    absl::StatusOr<uint64_t> n =
        ParseInteger<uint64_t>("--requests", get("--requests"), 1, uint64_t{1} << 40);
    if (!n.ok()) return n.status();
    options.requests = *n;
  }
  if (has("--mix")) {
    absl::StatusOr<std::vector<MixEntry>> mix = ParseMix(get("--mix"));
    if (!mix.ok()) return mix.status();
    options.mix = std::move(*mix);
  }
  options.tool = has("--tool")                   ? get("--tool")
                 : options.stdio_command.empty() ? "everything__echo"
                                                 : "echo";
  if (has("--rate")) {
    absl::StatusOr<double> rate = ParseNumber(get("--rate"));
    if (!rate.ok() || *rate <= 0 || *rate > 1e7) {
      return Bad(StrCat("--rate: '", get("--rate"), "' is not a rate from 0 to 10000000 per s"));
    }
    options.rate = *rate;
  }
  if (has("--pids")) {
    std::string_view list = get("--pids");
    while (true) {
      size_t comma = list.find(',');
      absl::StatusOr<int> pid = ParseInteger<int>("--pids", list.substr(0, comma), 1, 1 << 30);
      if (!pid.ok()) return pid.status();
      options.pids.push_back(*pid);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  if (has("--idle-sessions")) {
    if (!options.stdio_command.empty()) return Bad("--idle-sessions needs a URL, not --stdio");
    if (has("--rate") || has("--requests") || has("--mix")) {
      return Bad("--idle-sessions sends no load: drop --rate, --requests and --mix");
    }
    absl::StatusOr<int> n =
        ParseInteger<int>("--idle-sessions", get("--idle-sessions"), 1, kMaxIdleSessions);
    if (!n.ok()) return n.status();
    options.idle_sessions = *n;
  } else if (has("--hold")) {
    return Bad("--hold applies only with --idle-sessions");
  }
  if (has("--protocol-version")) options.protocol_version = get("--protocol-version");
  if (has("--label")) options.label = get("--label");
  return options;
}

std::string Usage() {
  return R"(sb-load: drives MCP sessions against an endpoint and reports throughput and latency

Usage:
  sb-load URL [flags]              Streamable HTTP, e.g. http://127.0.0.1:12008/metamcp/demo/mcp
  sb-load --stdio "CMD ARGS" [flags]   a STDIO MCP server's stdin/stdout, driven directly
  sb-load URL --idle-sessions N [--hold 5s] [--pids P]   open N sessions, hold them, report RSS

Flags:
  --key KEY            API key, sent as "Authorization: Bearer KEY" (default: $SB_LOAD_KEY)
  --connections N      sessions, each on its own keep-alive connection (default 1); with
                       --stdio, requests in flight at once on the one process
  --duration D         measured phase, a hard cap (default 10s; D like 500ms, 10s, 2m)
  --requests N         stop after N measured requests (and at --duration at the latest)
  --warmup D           run this long first, excluded from the figures (default 0)
  --mix K=W,...        workload shares of call, list, ping (default call=100)
  --tool NAME          tool tools/call names (default everything__echo; echo with --stdio)
  --rate R             open loop: R requests/s across all connections, latency measured from
                       each request's intended send time (default: closed loop)
  --timeout D          per-request timeout (default 10s)
  --pids P,P,...       processes whose CPU time (utime+stime) and RSS are measured
  --protocol-version V version asked for in initialize (default 2025-06-18)
  --label TEXT         a name copied into the report
  --json               print the report as one JSON object
Exit status: 0 when every request succeeded, 1 when any failed, 2 for bad arguments.
)";
}

}  // namespace switchboard::load
