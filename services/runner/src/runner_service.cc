#include "services/runner/src/runner_service.h"

#include <pthread.h>
#include <signal.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "services/runner/src/shared_process.h"
#include "switchboard/common/log.h"
#include "switchboard/common/strings.h"

namespace switchboard::runner {
namespace {

namespace asio = boost::asio;

// The processes that serve one server. Today a single process shared by every attachment;
// per-server pools and isolation modes choose among several here.
class ServerPool {
 public:
  ServerPool(ProcessContext* ctx, const std::string& server) {
    processes_.push_back(std::make_unique<SharedProcess>(ctx, server));
  }

  // The process a new attachment should use.
  SharedProcess* Pick() { return processes_.front().get(); }

  const std::vector<std::unique_ptr<SharedProcess>>& processes() const { return processes_; }

  // Closes every attachment of every process with `status`.
  void Shutdown(const absl::Status& status) {
    for (auto& p : processes_) p->Shutdown(status);
  }

 private:
  std::vector<std::unique_ptr<SharedProcess>> processes_;
};

}  // namespace

struct RunnerService::Impl {
  Impl(RunnerOptions o, const ServerCatalog* catalog, ProcessLauncher* launcher)
      : options(std::move(o)),
        work(asio::make_work_guard(io)),
        ctx{io, options, *catalog, *launcher} {
    ctx.on_child_reaped = [this] { MaybeFinishShutdown(); };
  }

  void DoAttach(uint64_t id, const std::string& server, std::shared_ptr<AttachmentSink> sink) {
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
    std::unique_ptr<ServerPool>& pool = pools[server];
    if (!pool) pool = std::make_unique<ServerPool>(&ctx, server);
    SharedProcess* process = pool->Pick();
    bindings[id] = process;
    process->Attach(id, std::move(sink));
  }

  void DoSend(uint64_t id, std::string message) {
    auto it = bindings.find(id);
    if (it != bindings.end()) it->second->Send(id, std::move(message));
  }

  void DoDetach(uint64_t id) {
    auto it = bindings.find(id);
    if (it == bindings.end()) return;
    SharedProcess* process = it->second;
    bindings.erase(it);
    process->Detach(id);
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
  std::unordered_map<uint64_t, SharedProcess*> bindings;  // attachment → its process
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
          for (const auto& process : pool->processes()) out.push_back(process->Describe());
        }
        return out;
      },
      {});
}

absl::Status RunnerService::RestartServer(const std::string& server) {
  return OnIoThread<absl::Status>(
      [impl = impl_.get(), &server] {
        auto it = impl->pools.find(server);
        if (it == impl->pools.end()) {
          return absl::NotFoundError(StrCat("the runner has not run MCP server '", server, "'"));
        }
        bool any = false;
        for (const auto& process : it->second->processes()) any = process->Restart() || any;
        return any ? absl::OkStatus()
                   : absl::FailedPreconditionError(
                         StrCat("MCP server '", server, "' is not running"));
      },
      absl::UnavailableError("the runner is shutting down"));
}

absl::StatusOr<std::vector<std::string>> RunnerService::ServerLogs(const std::string& server,
                                                                   size_t max_lines) {
  return OnIoThread<absl::StatusOr<std::vector<std::string>>>(
      [impl = impl_.get(), &server, max_lines]() -> absl::StatusOr<std::vector<std::string>> {
        auto it = impl->pools.find(server);
        if (it == impl->pools.end()) {
          return absl::NotFoundError(StrCat("the runner has not run MCP server '", server, "'"));
        }
        std::vector<std::string> lines;
        for (const auto& process : it->second->processes()) {
          std::vector<std::string> tail = process->StderrTail(max_lines);
          lines.insert(lines.end(), tail.begin(), tail.end());
        }
        return lines;
      },
      absl::UnavailableError("the runner is shutting down"));
}

Attachment::~Attachment() { Detach(); }

void Attachment::Send(std::string message) {
  if (detached_.load(std::memory_order_acquire)) return;
  service_->Send(id_, std::move(message));
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
                                                  std::shared_ptr<AttachmentSink> sink) {
  uint64_t id = impl_->next_attachment.fetch_add(1);
  std::unique_ptr<Attachment> attachment(new Attachment(this, id));
  {
    // Holding the lock orders this post before Shutdown's, or this call after the I/O thread.
    std::lock_guard<std::mutex> lock(impl_->shutdown_mu);
    if (!impl_->shut_down) {
      asio::post(impl_->io, [impl = impl_.get(), id, server = std::move(server),
                             sink = std::move(sink)]() mutable {
        impl->DoAttach(id, server, std::move(sink));
      });
      return attachment;
    }
  }
  sink->OnClosed(absl::UnavailableError("the runner is shutting down"));
  return attachment;
}

void RunnerService::Send(uint64_t attachment, std::string message) {
  asio::post(impl_->io, [impl = impl_.get(), attachment, message = std::move(message)]() mutable {
    impl->DoSend(attachment, std::move(message));
  });
}

void RunnerService::Detach(uint64_t attachment) {
  asio::post(impl_->io, [impl = impl_.get(), attachment] { impl->DoDetach(attachment); });
}

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
