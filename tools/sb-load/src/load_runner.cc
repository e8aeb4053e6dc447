#include "tools/sb-load/src/load_runner.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <deque>
#include <functional>
#include <memory>
#include <random>

#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"
#include "tools/sb-load/src/http_client.h"
#include "tools/sb-load/src/proc_stats.h"
#include "tools/sb-load/src/stdio_client.h"

namespace switchboard::load {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr int kOpenAttempts = 3;
constexpr auto kRetryPause = std::chrono::milliseconds(200);
constexpr size_t kIdleConcurrency = 64;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

uint64_t Nanos(Clock::duration d) {
  auto n = std::chrono::duration_cast<std::chrono::nanoseconds>(d).count();
  return n > 0 ? static_cast<uint64_t>(n) : 0;
}

// Runs every task concurrently on the current executor and returns when all have finished.
asio::awaitable<void> RunAll(std::vector<std::function<asio::awaitable<void>()>> tasks) {
  auto executor = co_await asio::this_coro::executor;
  auto remaining = std::make_shared<size_t>(tasks.size());
  auto done = std::make_shared<asio::steady_timer>(executor, Clock::time_point::max());
  for (auto& task : tasks) {
    asio::co_spawn(executor, task(), [remaining, done](std::exception_ptr e) {
      if (--*remaining == 0) done->cancel();
      if (e) std::rethrow_exception(e);
    });
  }
  if (*remaining > 0) co_await done->async_wait(kTuple);
}

std::string HostHeader(const HttpTarget& target) {
  std::string host =
      target.host.find(':') != std::string::npos ? StrCat("[", target.host, "]") : target.host;
  return target.port == "80" ? host : StrCat(host, ":", target.port);
}

std::string JoinWords(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& w : words) out += StrCat(out.empty() ? "" : " ", w);
  return out;
}

// One run of sb-load, on one io_context thread.
class Run {
 public:
  Run(const Options& options, asio::io_context& io) : options_(options), io_(io) {
    std::random_device random;
    char tag[16];
    std::snprintf(tag, sizeof(tag), "%08x", static_cast<unsigned>(random()));
    tag_ = tag;
    for (const MixEntry& m : options_.mix) total_weight_ += m.weight;
    report_.label = options_.label;
    report_.target = options_.stdio_command.empty()
                         ? options_.url
                         : StrCat("stdio:", JoinWords(options_.stdio_command));
    report_.mode = options_.idle_sessions > 0 ? "idle" : options_.rate > 0 ? "open" : "closed";
    report_.connections =
        options_.idle_sessions > 0 ? options_.idle_sessions : options_.connections;
    report_.rate = options_.rate;
    report_.warmup_s = Seconds(options_.warmup);
    report_.idle_sessions = options_.idle_sessions;
    report_.hold_s = options_.idle_sessions > 0 ? Seconds(options_.hold) : 0;
    pids_ = options_.pids;
  }

  asio::awaitable<void> Main() {
    if (options_.idle_sessions > 0) {
      co_await IdleMain();
    } else {
      co_await LoadMain();
    }
  }

  // Ends the run early: no new request, no more holding.
  void Stop() {
    stopping_ = true;
    deadline_ = Clock::now();
    if (scheduler_timer_) scheduler_timer_->cancel();
    if (hold_timer_) hold_timer_->cancel();
    if (sampler_timer_) sampler_timer_->cancel();
    WakeAll();
  }

  Report TakeReport() { return std::move(report_); }

 private:
  // ---- Setting up ----

  bool PrepareHttp() {
    if (options_.stdio_command.empty()) {
      boost::system::error_code ec;
      tcp::resolver resolver(io_);
      auto results = resolver.resolve(options_.http.host, options_.http.port, ec);
      if (ec || results.empty()) {
        NoteSetupFailure({FailureKind::kConnect, 0,
                          StrCat("cannot resolve ", options_.http.host, ": ", ec.message())});
        return false;
      }
      for (const auto& entry : results) http_.endpoints.push_back(entry.endpoint());
      http_.host_header = HostHeader(options_.http);
      http_.target = options_.http.target;
      http_.key = options_.key;
      http_.protocol_version = options_.protocol_version;
      http_.timeout = options_.timeout;
    }
    return true;
  }

  std::unique_ptr<Client> MakeClient() {
    if (peer_) return std::make_unique<StdioClient>(peer_);
    return std::make_unique<HttpClient>(io_.get_executor(), http_);
  }

  void NoteSetupFailure(const Failure& failure) {
    std::string key = FailureKey(failure);
    ++report_.setup_errors[key];
    report_.error_samples.emplace(StrCat("setup ", key), failure.detail);
  }

  // Opens `client`, retrying a few times; true when it is ready.
  asio::awaitable<bool> OpenWithRetry(Client& client) {
    for (int attempt = 1; attempt <= kOpenAttempts && !stopping_; ++attempt) {
      std::optional<Failure> failure = co_await client.Open();
      if (!failure) co_return true;
      NoteSetupFailure(*failure);
      if (attempt < kOpenAttempts) co_await Pause(kRetryPause);
    }
    co_return false;
  }

  asio::awaitable<void> Pause(Clock::duration d) {
    asio::steady_timer timer(io_, std::min(Clock::now() + d, std::max(deadline_, Clock::now())));
    if (stopping_) co_return;
    co_await timer.async_wait(kTuple);
  }

  void SampleCpuBaseline() {
    cpu_baseline_.clear();
    for (int pid : pids_) {
      absl::StatusOr<uint64_t> cpu = ProcessCpuMicros(pid);
      cpu_baseline_.push_back(cpu.ok() ? std::optional<uint64_t>(*cpu) : std::nullopt);
    }
    self_cpu_baseline_ = SelfCpuMicros();
    baseline_taken_ = true;
  }

  void SampleCpuEnd() {
    for (size_t i = 0; i < pids_.size(); ++i) {
      ProcessUsage& usage = Usage(i);
      absl::StatusOr<uint64_t> cpu = ProcessCpuMicros(pids_[i]);
      if (baseline_taken_ && cpu.ok() && cpu_baseline_[i] && *cpu >= *cpu_baseline_[i]) {
        usage.cpu_us = *cpu - *cpu_baseline_[i];
      }
    }
    if (baseline_taken_) report_.client_cpu_us = SelfCpuMicros() - self_cpu_baseline_;
  }

  ProcessUsage& Usage(size_t i) {
    while (report_.processes.size() <= i) {
      ProcessUsage usage;
      usage.pid = pids_[report_.processes.size()];
      usage.name = ProcessName(usage.pid);
      report_.processes.push_back(std::move(usage));
    }
    return report_.processes[i];
  }

  void SampleRss(bool before) {
    for (size_t i = 0; i < pids_.size(); ++i) {
      absl::StatusOr<uint64_t> rss = ProcessRssKb(pids_[i]);
      if (!rss.ok()) continue;
      (before ? Usage(i).rss_before_kb : Usage(i).rss_after_kb) = *rss;
    }
  }

  // ---- The workload ----

  RequestKind PickKind(std::mt19937_64& rng) const {
    if (options_.mix.size() == 1) return options_.mix.front().kind;
    int x = static_cast<int>(rng() % static_cast<uint64_t>(total_weight_));
    for (const MixEntry& m : options_.mix) {
      if (x < m.weight) return m.kind;
      x -= m.weight;
    }
    return options_.mix.back().kind;
  }

  Request NextRequest(std::mt19937_64& rng, int worker, uint64_t* seq) {
    RequestKind kind = PickKind(rng);
    uint64_t id = next_id_++;
    std::string message;
    if (kind == RequestKind::kCall)
      message = StrCat("sb-load ", tag_, " c", worker, " r", (*seq)++);
    return MakeRequest(kind, id, options_.tool, std::move(message));
  }

  void Record(RequestKind kind, Clock::duration latency, const std::optional<Failure>& failure) {
    uint64_t nanos = Nanos(latency);
    report_.latency.Record(nanos);
    KindResult& k = report_.by_kind[kind];
    k.latency.Record(nanos);
    if (!failure) {
      ++report_.ok;
      ++k.ok;
      return;
    }
    ++report_.failed;
    ++k.failed;
    std::string key = FailureKey(*failure);
    ++report_.errors[key];
    report_.error_samples.emplace(key, failure->detail);
  }

  bool LimitReached() const {
    return options_.requests > 0 && measured_issued_ >= options_.requests;
  }

  asio::awaitable<void> ClosedWorker(int index, Client& client) {
    std::mt19937_64 rng(static_cast<uint64_t>(index) + 1);
    uint64_t seq = 0;
    while (!stopping_) {
      Clock::time_point sent = Clock::now();
      if (sent >= deadline_) break;
      bool measured = sent >= measure_start_;
      if (measured) {
        if (LimitReached()) break;
        ++measured_issued_;
      }
      Request request = NextRequest(rng, index, &seq);
      std::optional<Failure> failure = co_await client.Call(request);
      if (measured) {
        Record(request.kind, Clock::now() - sent, failure);
      } else if (failure) {
        ++report_.warmup_failed;
      }
      if (failure && failure->kind == FailureKind::kConnect) co_await Pause(kRetryPause);
    }
  }

  // Open loop: due times are queued by Scheduler; idle workers wait to be woken.
  asio::awaitable<void> OpenWorker(int index, Client& client) {
    std::mt19937_64 rng(static_cast<uint64_t>(index) + 1);
    uint64_t seq = 0;
    asio::steady_timer wake(io_);
    while (true) {
      while (due_.empty() && !schedule_closed_ && !stopping_) {
        wake.expires_at(Clock::time_point::max());
        idle_.push_back(&wake);
        co_await wake.async_wait(kTuple);
      }
      if (due_.empty() || stopping_ || Clock::now() >= deadline_) break;
      Clock::time_point due = due_.front();
      due_.pop_front();
      Request request = NextRequest(rng, index, &seq);
      std::optional<Failure> failure = co_await client.Call(request);
      if (due >= measure_start_) {
        Record(request.kind, Clock::now() - due, failure);
      } else if (failure) {
        ++report_.warmup_failed;
      }
      if (failure && failure->kind == FailureKind::kConnect) co_await Pause(kRetryPause);
    }
  }

  void WakeOne() {
    if (idle_.empty()) return;
    asio::steady_timer* timer = idle_.back();
    idle_.pop_back();
    timer->cancel();
  }

  void WakeAll() {
    while (!idle_.empty()) WakeOne();
  }

  asio::awaitable<void> Scheduler() {
    asio::steady_timer timer(io_);
    scheduler_timer_ = &timer;
    const double interval = 1e9 / options_.rate;
    uint64_t measured_due = 0;
    for (uint64_t i = 0; !stopping_; ++i) {
      Clock::time_point due =
          start_ + std::chrono::nanoseconds(static_cast<int64_t>(std::llround(i * interval)));
      if (due >= deadline_) break;
      bool measured = due >= measure_start_;
      if (measured && options_.requests > 0 && measured_due >= options_.requests) break;
      if (due > Clock::now()) {
        timer.expires_at(due);
        co_await timer.async_wait(kTuple);
        if (stopping_) break;
      }
      if (measured) ++measured_due;
      due_.push_back(due);
      WakeOne();
    }
    scheduler_timer_ = nullptr;
    schedule_closed_ = true;
    WakeAll();
  }

  asio::awaitable<void> Sampler() {
    asio::steady_timer timer(io_, measure_start_);
    sampler_timer_ = &timer;
    if (measure_start_ > Clock::now()) co_await timer.async_wait(kTuple);
    sampler_timer_ = nullptr;
    if (!stopping_) SampleCpuBaseline();
  }

  asio::awaitable<void> LoadMain() {
    if (!options_.stdio_command.empty()) {
      absl::StatusOr<std::shared_ptr<StdioPeer>> peer =
          StdioPeer::Start(io_.get_executor(), options_.stdio_command, options_.timeout);
      if (!peer.ok()) {
        NoteSetupFailure({FailureKind::kConnect, 0, std::string(MessageOf(peer.status()))});
        co_return;
      }
      peer_ = *peer;
      if (std::optional<Failure> failure = co_await peer_->Initialize(options_.protocol_version)) {
        NoteSetupFailure(*failure);
        co_await peer_->Stop();
        co_return;
      }
      pids_.push_back(peer_->pid());
    } else if (!PrepareHttp()) {
      co_return;
    }

    std::vector<std::unique_ptr<Client>> clients;
    std::vector<char> ready(static_cast<size_t>(options_.connections), 0);
    std::vector<std::function<asio::awaitable<void>()>> opens;
    for (int i = 0; i < options_.connections; ++i) {
      clients.push_back(MakeClient());
      opens.push_back([this, &clients, &ready, i]() -> asio::awaitable<void> {
        ready[static_cast<size_t>(i)] = co_await OpenWithRetry(*clients[static_cast<size_t>(i)]);
      });
    }
    co_await RunAll(std::move(opens));
    for (char r : ready) report_.sessions_opened += r;

    if (report_.sessions_opened > 0 && !stopping_) {
      start_ = Clock::now();
      measure_start_ = start_ + options_.warmup;
      deadline_ = measure_start_ + options_.duration;
      std::vector<std::function<asio::awaitable<void>()>> tasks;
      tasks.push_back([this] { return Sampler(); });
      if (options_.rate > 0) tasks.push_back([this] { return Scheduler(); });
      for (int i = 0; i < options_.connections; ++i) {
        if (!ready[static_cast<size_t>(i)]) continue;
        Client* client = clients[static_cast<size_t>(i)].get();
        if (options_.rate > 0) {
          tasks.push_back([this, i, client] { return OpenWorker(i, *client); });
        } else {
          tasks.push_back([this, i, client] { return ClosedWorker(i, *client); });
        }
      }
      co_await RunAll(std::move(tasks));
      Clock::time_point end = Clock::now();
      report_.elapsed_s = end > measure_start_ ? Seconds(end - measure_start_) : 0;
      for (Clock::time_point due : due_) report_.not_sent += due >= measure_start_ ? 1 : 0;
      due_.clear();
      SampleCpuEnd();
    }

    std::vector<std::function<asio::awaitable<void>()>> closes;
    for (size_t i = 0; i < clients.size(); ++i) {
      if (!ready[i]) continue;
      Client* client = clients[i].get();
      closes.push_back([client] { return client->Close(); });
    }
    co_await RunAll(std::move(closes));
    if (peer_) co_await peer_->Stop();
  }

  // ---- Idle sessions ----

  asio::awaitable<void> IdleMain() {
    if (!PrepareHttp()) co_return;
    SampleRss(true);
    SampleCpuBaseline();
    deadline_ = Clock::time_point::max();
    std::vector<std::unique_ptr<HttpClient>> clients;
    for (int i = 0; i < options_.idle_sessions; ++i) {
      clients.push_back(std::make_unique<HttpClient>(io_.get_executor(), http_));
    }
    std::vector<char> ready(clients.size(), 0);
    size_t next = 0;
    std::vector<std::function<asio::awaitable<void>()>> openers;
    for (size_t w = 0; w < std::min(kIdleConcurrency, clients.size()); ++w) {
      openers.push_back([&]() -> asio::awaitable<void> {
        while (next < clients.size() && !stopping_) {
          size_t i = next++;
          ready[i] = co_await OpenWithRetry(*clients[i]);
        }
      });
    }
    Clock::time_point opened_at = Clock::now();
    co_await RunAll(std::move(openers));
    for (char r : ready) report_.sessions_opened += r;

    asio::steady_timer hold(io_, options_.hold);
    hold_timer_ = &hold;
    if (!stopping_) co_await hold.async_wait(kTuple);
    hold_timer_ = nullptr;
    SampleRss(false);
    SampleCpuEnd();
    report_.elapsed_s = Seconds(Clock::now() - opened_at);

    next = 0;
    std::vector<std::function<asio::awaitable<void>()>> closers;
    for (size_t w = 0; w < std::min(kIdleConcurrency, clients.size()); ++w) {
      closers.push_back([&]() -> asio::awaitable<void> {
        while (next < clients.size()) {
          size_t i = next++;
          if (ready[i]) co_await clients[i]->Close();
        }
      });
    }
    co_await RunAll(std::move(closers));
  }

  const Options& options_;
  asio::io_context& io_;
  Report report_;
  std::string tag_;
  int total_weight_ = 0;
  std::vector<int> pids_;
  HttpClientConfig http_;
  std::shared_ptr<StdioPeer> peer_;

  bool stopping_ = false;
  Clock::time_point start_;
  Clock::time_point measure_start_;
  Clock::time_point deadline_ = Clock::time_point::max();
  uint64_t next_id_ = 1;  // 0 is initialize's
  uint64_t measured_issued_ = 0;

  std::deque<Clock::time_point> due_;
  std::vector<asio::steady_timer*> idle_;
  bool schedule_closed_ = false;
  asio::steady_timer* scheduler_timer_ = nullptr;
  asio::steady_timer* sampler_timer_ = nullptr;
  asio::steady_timer* hold_timer_ = nullptr;

  std::vector<std::optional<uint64_t>> cpu_baseline_;
  uint64_t self_cpu_baseline_ = 0;
  bool baseline_taken_ = false;
};

}  // namespace

Report RunLoad(const Options& options, bool stop_on_signals) {
  asio::io_context io(1);
  Run run(options, io);
  asio::signal_set signals(io);
  if (stop_on_signals) {
    signals.add(SIGINT);
    signals.add(SIGTERM);
    signals.async_wait([&run](const boost::system::error_code& ec, int) {
      if (!ec) run.Stop();
    });
  }
  asio::co_spawn(io, run.Main(), [&signals](std::exception_ptr e) {
    boost::system::error_code ignored;
    signals.cancel(ignored);
    if (e) std::rethrow_exception(e);
  });
  io.run();
  return run.TakeReport();
}

}  // namespace switchboard::load
