#include "services/runner/src/runner_service.h"

#include <pthread.h>
#include <signal.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>
#include <vector>

#include "services/runner/src/server_pool.h"
#include "switchboard/common/log.h"
#include "switchboard/common/strings.h"

namespace switchboard::runner {
namespace {

namespace asio = boost::asio;

}  // namespace

struct RunnerService::Impl {
  Impl(RunnerOptions o, const ServerCatalog* catalog, ProcessLauncher* launcher)
      : options(std::move(o)),
        work(asio::make_work_guard(io)),
        ctx{io, options, *catalog, *launcher} {
    ctx.on_child_reaped = [this] { MaybeFinishShutdown(); };
    ctx.on_start_slot_free = [this] { WakeStartWaiter(); };
  }

  // Lets the servers waiting for a start slot try, as long as slots are free.
  void WakeStartWaiter() {
    while (!ctx.start_waiters.empty() && !ctx.shutting_down &&
           (options.max_concurrent_starts <= 0 || ctx.starting < options.max_concurrent_starts)) {
      std::string name = std::move(ctx.start_waiters.front());
      ctx.start_waiters.pop_front();
      auto it = pools.find(name);
      if (it != pools.end()) it->second->OnStartSlotFree();
    }
  }

  // The pool of `server`, for the admin calls; NotFound when the runner has never run it.
  absl::StatusOr<ServerPool*> FindPool(const std::string& server) {
    auto it = pools.find(server);
    if (it == pools.end()) {
      return absl::NotFoundError(StrCat("the runner has not run MCP server '", server, "'"));
    }
    return it->second.get();
  }

  ServerPool& PoolFor(const ServerSpec& spec) {
    std::unique_ptr<ServerPool>& pool = pools[spec.name];
    if (!pool) {
      pool = std::make_unique<ServerPool>(&ctx, spec);
    } else {
      pool->UpdateSpec(spec);
    }
    return *pool;
  }

  void DoApplyConfig() {
    if (ctx.shutting_down) return;
    std::set<std::string, std::less<>> current;
    for (ServerSpec& spec : ctx.catalog.List()) {
      if (spec.type != "STDIO") continue;
      current.insert(spec.name);
      auto it = pools.find(spec.name);
      if (it != pools.end()) {
        // Processes started from an older command, env, cwd or limits are replaced gracefully.
        if (it->second->RunsOutdatedSpec(spec)) it->second->Drain();
        it->second->UpdateSpec(spec);
        it->second->EnsureMin();
      } else if (spec.pool.min_processes > 0) {
        PoolFor(spec).EnsureMin();
      }
    }
    // Servers removed (or no longer STDIO): their processes finish what they do, then stop.
    for (auto& [name, pool] : pools) {
      if (!current.count(name)) pool->Drain();
    }
  }

  void DoAttach(uint64_t id, const std::string& server, std::shared_ptr<AttachmentSink> sink,
                const RouteContext& context) {
    if (ctx.shutting_down) {
      sink->OnClosed(absl::UnavailableError("the runner is shutting down"));
      return;
    }
    absl::StatusOr<ServerSpec> spec = ctx.catalog.Find(server);
    if (!spec.ok()) {
      sink->OnClosed(spec.status());
      return;
    }
    if (spec->type != "STDIO") {
      sink->OnClosed(
          absl::FailedPreconditionError(StrCat("MCP server '", server, "' has type '", spec->type,
                                               "': the runner only runs STDIO servers")));
      return;
    }
    ServerPool& pool = PoolFor(*spec);
    bindings[id] = &pool;
    pool.Attach(id, std::move(sink), context);
  }

  void DoSend(uint64_t id, std::string message, const std::optional<RouteContext>& route) {
    auto it = bindings.find(id);
    if (it != bindings.end()) it->second->Send(id, std::move(message), route ? &*route : nullptr);
  }

  void DoDetach(uint64_t id) {
    auto it = bindings.find(id);
    if (it == bindings.end()) return;
    ServerPool* pool = it->second;
    bindings.erase(it);
    pool->Detach(id);
  }

  void BeginShutdown(std::promise<void>* done) {
    ctx.shutting_down = true;
    shutdown_done = done;
    absl::Status status = absl::UnavailableError("the runner is shutting down");
    for (auto& [name, pool] : pools) pool->Shutdown(status);
    bindings.clear();
    log::Info("stopping MCP servers", {{"processes", static_cast<uint64_t>(ctx.children.size())}});
    std::vector<std::shared_ptr<StdioChild>> children;
    for (auto& [raw, child] : ctx.children) children.push_back(child);
    for (auto& child : children) child->Stop(std::chrono::milliseconds(options.stop_grace_ms));
    MaybeFinishShutdown();
  }

  void MaybeFinishShutdown() {
    if (shutdown_done == nullptr || !ctx.children.empty()) return;
    std::promise<void>* done = shutdown_done;
    shutdown_done = nullptr;
    done->set_value();
  }

  asio::io_context io;
  RunnerOptions options;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  ProcessContext ctx;
  std::map<std::string, std::unique_ptr<ServerPool>, std::less<>> pools;
  std::unordered_map<uint64_t, ServerPool*> bindings;  // attachment → its server's pool
  std::promise<void>* shutdown_done = nullptr;
  std::atomic<uint64_t> next_attachment{1};
  std::mutex shutdown_mu;
  bool shut_down = false;  // guarded by shutdown_mu
  std::thread thread;
};

template <class T>
T RunnerService::OnIoThread(std::function<T()> fn, T fallback) {
  std::promise<T> result;
  std::future<T> done = result.get_future();
  {
    std::lock_guard<std::mutex> lock(impl_->shutdown_mu);
    if (impl_->shut_down) return fallback;
    asio::post(impl_->io, [&] { result.set_value(fn()); });
  }
  return done.get();
}

std::vector<ProcessStatus> RunnerService::ListProcesses() {
  return OnIoThread<std::vector<ProcessStatus>>(
      [impl = impl_.get()] {
        std::vector<ProcessStatus> out;
        for (const auto& [name, pool] : impl->pools) {
          for (ProcessStatus& s : pool->Describe()) out.push_back(std::move(s));
        }
        return out;
      },
      {});
}

absl::Status RunnerService::RestartServer(const std::string& server) {
  return OnIoThread<absl::Status>(
      [impl = impl_.get(), &server] {
        absl::StatusOr<ServerPool*> pool = impl->FindPool(server);
        if (!pool.ok()) return pool.status();
        return (*pool)->Restart() ? absl::OkStatus()
                                  : absl::FailedPreconditionError(
                                        StrCat("MCP server '", server, "' is not running"));
      },
      absl::UnavailableError("the runner is shutting down"));
}

absl::StatusOr<std::vector<std::string>> RunnerService::ServerLogs(const std::string& server,
                                                                   size_t max_lines) {
  return OnIoThread<absl::StatusOr<std::vector<std::string>>>(
      [impl = impl_.get(), &server, max_lines]() -> absl::StatusOr<std::vector<std::string>> {
        absl::StatusOr<ServerPool*> pool = impl->FindPool(server);
        if (!pool.ok()) return pool.status();
        return (*pool)->StderrTail(max_lines);
      },
      absl::UnavailableError("the runner is shutting down"));
}

absl::StatusOr<int64_t> RunnerService::DrainServer(const std::string& server) {
  return OnIoThread<absl::StatusOr<int64_t>>(
      [impl = impl_.get(), &server]() -> absl::StatusOr<int64_t> {
        absl::StatusOr<ServerPool*> pool = impl->FindPool(server);
        if (!pool.ok()) return pool.status();
        return (*pool)->Drain();
      },
      absl::UnavailableError("the runner is shutting down"));
}

void RunnerService::ApplyConfig() {
  std::lock_guard<std::mutex> lock(impl_->shutdown_mu);
  if (impl_->shut_down) return;
  asio::post(impl_->io, [impl = impl_.get()] { impl->DoApplyConfig(); });
}

Attachment::~Attachment() { Detach(); }

void Attachment::Send(std::string message) {
  if (detached_.load(std::memory_order_acquire)) return;
  service_->Send(id_, std::move(message), std::nullopt);
}

void Attachment::Send(std::string message, RouteContext route) {
  if (detached_.load(std::memory_order_acquire)) return;
  service_->Send(id_, std::move(message), std::move(route));
}

void Attachment::Detach() {
  if (detached_.exchange(true, std::memory_order_acq_rel)) return;
  service_->Detach(id_);
}

RunnerService::RunnerService(RunnerOptions options, const ServerCatalog* catalog,
                             ProcessLauncher* launcher)
    : impl_(std::make_unique<Impl>(std::move(options), catalog, launcher)) {
  impl_->thread = std::thread([impl = impl_.get()] {
    // Writes to a pipe whose reader died must fail with EPIPE, not kill the process.
    sigset_t pipe_only;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, nullptr);
    impl->io.run();
  });
}

RunnerService::~RunnerService() { Shutdown(); }

std::unique_ptr<Attachment> RunnerService::Attach(std::string server,
                                                  std::shared_ptr<AttachmentSink> sink,
                                                  RouteContext context) {
  uint64_t id = impl_->next_attachment.fetch_add(1);
  std::unique_ptr<Attachment> attachment(new Attachment(this, id));
  {
    // Holding the lock orders this post before Shutdown's, or this call after the I/O thread.
    std::lock_guard<std::mutex> lock(impl_->shutdown_mu);
    if (!impl_->shut_down) {
      asio::post(impl_->io, [impl = impl_.get(), id, server = std::move(server),
                             sink = std::move(sink), context = std::move(context)]() mutable {
        impl->DoAttach(id, server, std::move(sink), context);
      });
      return attachment;
    }
  }
  sink->OnClosed(absl::UnavailableError("the runner is shutting down"));
  return attachment;
}

void RunnerService::Send(uint64_t attachment, std::string message,
                         std::optional<RouteContext> route) {
  asio::post(impl_->io, [impl = impl_.get(), attachment, message = std::move(message),
                         route = std::move(route)]() mutable {
    impl->DoSend(attachment, std::move(message), route);
  });
}

void RunnerService::Detach(uint64_t attachment) {
  asio::post(impl_->io, [impl = impl_.get(), attachment] { impl->DoDetach(attachment); });
}

boost::asio::any_io_executor RunnerService::executor() const { return impl_->io.get_executor(); }

void RunnerService::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(impl_->shutdown_mu);
    if (impl_->shut_down) return;
    impl_->shut_down = true;
  }
  std::promise<void> done;
  std::future<void> finished = done.get_future();
  asio::post(impl_->io, [impl = impl_.get(), &done] { impl->BeginShutdown(&done); });
  finished.wait();
  impl_->work.reset();
  impl_->io.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  log::Info("all MCP server processes stopped");
}

}  // namespace switchboard::runner
