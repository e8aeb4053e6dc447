#include "switchboard/configwatch/config_cache.h"

#include <chrono>

#include "switchboard/common/log.h"

namespace switchboard::configwatch {

ConfigCache::ConfigCache(std::shared_ptr<grpc::Channel> channel, std::string watcher)
    : stub_(registry::v1::Registry::NewStub(std::move(channel))), watcher_(std::move(watcher)) {}

ConfigCache::~ConfigCache() { Stop(); }

void ConfigCache::OnChange(Listener listener) { listeners_.push_back(std::move(listener)); }

void ConfigCache::Start() { thread_ = std::thread([this] { Run(); }); }

void ConfigCache::Stop() {
  if (stopping_.exchange(true)) {
    if (thread_.joinable()) thread_.join();
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (active_context_ != nullptr) active_context_->TryCancel();
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::shared_ptr<const ConfigView> ConfigCache::Current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

bool ConfigCache::WaitSynced(int timeout_ms) const {
  std::unique_lock<std::mutex> lock(mu_);
  return cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                      [&] { return current_ != nullptr; });
}

void ConfigCache::Publish(std::shared_ptr<const ConfigView> view) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = view;
  }
  cv_.notify_all();
  for (const Listener& l : listeners_) l(view);
}

void ConfigCache::Run() {
  int backoff_ms = 100;
  while (!stopping_) {
    grpc::ClientContext context;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
      active_context_ = &context;
    }
    registry::v1::WatchRequest request;
    request.set_watcher(watcher_);
    auto reader = stub_->Watch(&context, request);
    registry::v1::WatchEvent event;
    bool got_snapshot = false;
    while (reader->Read(&event)) {
      std::shared_ptr<const ConfigView> base = Current();
      if (event.has_snapshot()) {
        got_snapshot = true;
        synced_ = true;
        backoff_ms = 100;
        log::Info("config snapshot", {{"revision", event.revision()}});
      } else if (!got_snapshot || base == nullptr) {
        continue;  // changes before a snapshot cannot be applied
      }
      Publish(event.has_snapshot() ? ConfigView::FromSnapshot(event.snapshot())
                                   : base->Apply(event));
    }
    grpc::Status status = reader->Finish();
    {
      std::lock_guard<std::mutex> lock(mu_);
      active_context_ = nullptr;
    }
    synced_ = false;
    if (stopping_) break;
    log::Warn("config watch stream ended; reconnecting",
              {{"code", static_cast<int>(status.error_code())},
               {"error", status.error_message()},
               {"backoff_ms", backoff_ms}});
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_.load(); });
    backoff_ms = std::min(backoff_ms * 2, 3000);
  }
}

}  // namespace switchboard::configwatch
