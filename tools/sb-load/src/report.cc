#include "tools/sb-load/src/report.h"

#include <boost/json.hpp>
#include <cstdio>

#include "switchboard/common/strings.h"

namespace switchboard::load {
namespace {

namespace json = boost::json;

std::string Fixed(double value, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, value);
  return buf;
}

// A latency in nanoseconds as "850us", "1.27ms" or "2.05s".
std::string Latency(uint64_t nanos) {
  double us = static_cast<double>(nanos) / 1000.0;
  if (us < 1000) return StrCat(Fixed(us, us < 10 ? 1 : 0), "us");
  if (us < 1000000) return StrCat(Fixed(us / 1000, us < 10000 ? 2 : 1), "ms");
  return StrCat(Fixed(us / 1000000, 2), "s");
}

std::string LatencyLine(const Histogram& h) {
  return StrCat("p50 ", Latency(h.ValueAt(0.5)), "  p90 ", Latency(h.ValueAt(0.9)), "  p99 ",
                Latency(h.ValueAt(0.99)), "  p99.9 ", Latency(h.ValueAt(0.999)), "  max ",
                Latency(h.max()), "  mean ", Latency(static_cast<uint64_t>(h.mean())));
}

double Micros(uint64_t nanos) { return static_cast<double>(nanos) / 1000.0; }

json::object LatencyJson(const Histogram& h) {
  json::object o;
  o["count"] = h.count();
  o["min"] = Micros(h.min());
  o["p50"] = Micros(h.ValueAt(0.5));
  o["p90"] = Micros(h.ValueAt(0.9));
  o["p99"] = Micros(h.ValueAt(0.99));
  o["p999"] = Micros(h.ValueAt(0.999));
  o["max"] = Micros(h.max());
  o["mean"] = h.mean() / 1000.0;
  return o;
}

template <typename T>
json::value Optional(const std::optional<T>& value) {
  if (!value) return nullptr;
  return json::value_from(*value);
}

}  // namespace

std::optional<double> Report::CpuPerCall() const {
  if (processes.empty() || completed() == 0) return std::nullopt;
  uint64_t total = 0;
  for (const ProcessUsage& p : processes) {
    if (!p.cpu_us) return std::nullopt;
    total += *p.cpu_us;
  }
  return static_cast<double>(total) / static_cast<double>(completed());
}

std::optional<double> Report::RssPerSession(const ProcessUsage& usage) const {
  if (sessions_opened == 0 || !usage.rss_before_kb || !usage.rss_after_kb) return std::nullopt;
  double grown =
      static_cast<double>(*usage.rss_after_kb) - static_cast<double>(*usage.rss_before_kb);
  return grown * 1024.0 / sessions_opened;
}

std::string FormatText(const Report& r) {
  std::string out =
      StrCat("sb-load: ", r.target, r.label.empty() ? "" : StrCat(" [", r.label, "]"), "\n");
  if (r.mode == "idle") {
    out += StrCat("sessions     ", r.sessions_opened, " of ", r.idle_sessions, " opened, held ",
                  Fixed(r.hold_s, 1), "s\n");
  } else {
    out += StrCat("workload     ",
                  r.mode == "open" ? StrCat("open loop at ", Fixed(r.rate, 0), "/s")
                                   : std::string("closed loop"),
                  ", ", r.connections, " connection", r.connections == 1 ? "" : "s", ", ",
                  Fixed(r.elapsed_s, 2), "s measured after ", Fixed(r.warmup_s, 2), "s warm-up\n");
    out += StrCat("requests     ", r.ok, " ok, ", r.failed, " failed",
                  r.not_sent > 0 ? StrCat(", ", r.not_sent, " never sent (overloaded)") : "", "   ",
                  Fixed(r.throughput(), 1), " ok/s\n");
    out += StrCat("latency      ", LatencyLine(r.latency), "\n");
    if (r.by_kind.size() > 1) {
      for (const auto& [kind, k] : r.by_kind) {
        out += StrCat("  ", KindName(kind), std::string(11 - KindName(kind).size(), ' '), k.ok,
                      " ok, ", k.failed, " failed; ", LatencyLine(k.latency), "\n");
      }
    }
  }
  auto list = [](const std::map<std::string, uint64_t>& counts) {
    std::string s;
    for (const auto& [key, n] : counts) s += StrCat(s.empty() ? "" : ", ", key, ": ", n);
    return s.empty() ? std::string("none") : s;
  };
  out += StrCat("errors       ", list(r.errors), "\n");
  if (!r.setup_errors.empty()) out += StrCat("setup errors ", list(r.setup_errors), "\n");
  for (const auto& [key, detail] : r.error_samples) {
    out += StrCat("  first ", key, ": ", detail, "\n");
  }
  for (const ProcessUsage& p : r.processes) {
    out += StrCat("process      ", p.name, " (", p.pid, ")");
    if (p.cpu_us) {
      out += StrCat(" cpu ", Fixed(static_cast<double>(*p.cpu_us) / 1000.0, 0), "ms");
      if (r.completed() > 0) {
        out += StrCat(" = ",
                      Fixed(static_cast<double>(*p.cpu_us) / static_cast<double>(r.completed()), 1),
                      "us/call");
      }
    }
    if (p.rss_before_kb && p.rss_after_kb) {
      out += StrCat(" rss ", *p.rss_before_kb, " -> ", *p.rss_after_kb, " kB");
      if (auto per = r.RssPerSession(p)) out += StrCat(" = ", Fixed(*per, 0), " B/session");
    }
    out += "\n";
  }
  if (auto cpu = r.CpuPerCall()) {
    out += StrCat("cpu per call ", Fixed(*cpu, 1), "us summed over ", r.processes.size(),
                  " process", r.processes.size() == 1 ? "" : "es", "\n");
  }
  if (r.client_cpu_us && r.completed() > 0) {
    out +=
        StrCat("client cpu   ",
               Fixed(static_cast<double>(*r.client_cpu_us) / static_cast<double>(r.completed()), 1),
               "us/call (sb-load itself)\n");
  }
  return out;
}

std::string FormatJson(const Report& r) {
  json::object o;
  o["label"] = r.label;
  o["target"] = r.target;
  o["mode"] = r.mode;
  o["connections"] = r.connections;
  if (r.mode == "open") o["rate"] = r.rate;
  o["warmup_s"] = r.warmup_s;
  o["elapsed_s"] = r.elapsed_s;
  o["sessions"] = r.sessions_opened;
  if (r.mode != "idle") {
    o["ok"] = r.ok;
    o["failed"] = r.failed;
    o["not_sent"] = r.not_sent;
    o["throughput"] = r.throughput();
    o["latency_us"] = LatencyJson(r.latency);
    json::object kinds;
    for (const auto& [kind, k] : r.by_kind) {
      json::object entry;
      entry["ok"] = k.ok;
      entry["failed"] = k.failed;
      entry["latency_us"] = LatencyJson(k.latency);
      kinds[KindName(kind)] = std::move(entry);
    }
    o["by_kind"] = std::move(kinds);
  }
  json::object errors;
  for (const auto& [key, n] : r.errors) errors[key] = n;
  o["errors"] = std::move(errors);
  json::object samples;
  for (const auto& [key, detail] : r.error_samples) samples[key] = detail;
  o["error_samples"] = std::move(samples);
  json::object setup;
  for (const auto& [key, n] : r.setup_errors) setup[key] = n;
  o["setup_errors"] = std::move(setup);
  o["warmup_failed"] = r.warmup_failed;
  json::array processes;
  for (const ProcessUsage& p : r.processes) {
    json::object entry;
    entry["pid"] = p.pid;
    entry["name"] = p.name;
    entry["cpu_us"] = Optional(p.cpu_us);
    entry["rss_before_kb"] = Optional(p.rss_before_kb);
    entry["rss_after_kb"] = Optional(p.rss_after_kb);
    entry["rss_bytes_per_session"] = Optional(r.RssPerSession(p));
    processes.push_back(std::move(entry));
  }
  o["processes"] = std::move(processes);
  o["cpu_us_per_call"] = Optional(r.CpuPerCall());
  std::optional<double> client;
  if (r.client_cpu_us && r.completed() > 0) {
    client = static_cast<double>(*r.client_cpu_us) / static_cast<double>(r.completed());
  }
  o["client_cpu_us_per_call"] = Optional(client);
  if (r.mode == "idle") {
    o["idle_sessions"] = r.idle_sessions;
    o["hold_s"] = r.hold_s;
  }
  return json::serialize(o) + "\n";
}

}  // namespace switchboard::load
