#include "switchboard/configwatch/config_cache.h"

#include <chrono>

#include "switchboard/common/log.h"
#include "switchboard/configwatch/admin_caller.h"

namespace switchboard::configwatch {

ConfigCache::ConfigCache(std::shared_ptr<grpc::Channel> channel, std::string watcher,
                         std::string service_token)
    : stub_(registry::v1::Registry::NewStub(std::move(channel))),
      watcher_(std::move(watcher)),
      authorization_(BearerAuthorization(service_token)) {}

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
    if (current_ == view) return;  // nothing new
    current_ = view;
  }
  cv_.notify_all();
  for (const Listener& l : listeners_) l(view);
}

std::shared_ptr<const ConfigView> ConfigCache::Next(const std::shared_ptr<const ConfigView>& base,
                                                    const registry::v1::WatchEvent& event) {
  if (event.has_snapshot()) return ConfigView::FromSnapshot(event.snapshot());
  // Changes apply only on top of a view; ones the view already has (at or below its revision)
  // are skipped, except that an empty event at the held revision says the view is current.
  if (base == nullptr) return nullptr;
  if (event.revision() < base->revision()) return nullptr;
  if (event.revision() == base->revision()) return event.changes_size() == 0 ? base : nullptr;
  return base->Apply(event);
}

void ConfigCache::Run() {
  int backoff_ms = 100;
  bool refused = false;  // the last stream was refused its credential (logged once until it works)
  while (!stopping_) {
    grpc::ClientContext context;
    if (!authorization_.empty()) context.AddMetadata(kAdminCredentialHeader, authorization_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) break;
      active_context_ = &context;
    }
    registry::v1::WatchRequest request;
    request.set_watcher(watcher_);
    // After a reconnect, ask only for what changed since the view already held.
    std::shared_ptr<const ConfigView> held = Current();
    if (held != nullptr) request.set_from_revision(held->revision());
    auto reader = stub_->Watch(&context, request);
    registry::v1::WatchEvent event;
    while (reader->Read(&event)) {
      std::shared_ptr<const ConfigView> next = Next(Current(), event);
      if (next == nullptr) continue;
      if (!synced_.exchange(true)) {
        backoff_ms = 100;
        refused = false;
        log::Info(event.has_snapshot() ? "config snapshot" : "config watch resumed",
                  {{"revision", event.revision()}});
      }
      Publish(std::move(next));
    }
    grpc::Status status = reader->Finish();
    {
      std::lock_guard<std::mutex> lock(mu_);
      active_context_ = nullptr;
    }
    synced_ = false;
    if (stopping_) break;
    if (status.error_code() == grpc::StatusCode::UNAUTHENTICATED ||
        status.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      if (!refused) {
        log::Error(
            "the registry refused this service's credential: set service_token to the "
            "registry's service token (retrying)",
            {{"watcher", watcher_},
             {"code", static_cast<int>(status.error_code())},
             {"error", status.error_message()},
             {"token_sent", !authorization_.empty()}});
      }
      refused = true;
    } else {
      log::Warn("config watch stream ended; reconnecting",
                {{"code", static_cast<int>(status.error_code())},
                 {"error", status.error_message()},
                 {"backoff_ms", backoff_ms}});
    }
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::milliseconds(backoff_ms), [&] { return stopping_.load(); });
    backoff_ms = std::min(backoff_ms * 2, 3000);
  }
}

}  // namespace switchboard::configwatch
