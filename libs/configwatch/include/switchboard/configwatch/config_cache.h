#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "switchboard/configwatch/config_view.h"
#include "switchboard/registry/v1/registry.grpc.pb.h"

namespace switchboard::configwatch {

// Keeps a ConfigView current from the registry's Watch stream: the first event is a snapshot,
// later ones are changes. Reconnects with backoff when the stream breaks, asking to resume from
// the revision it holds (WatchRequest.from_revision): the registry answers with the changes
// since, or with a fresh snapshot when it no longer has them, so a restarted registry is
// followed either way. Request paths read Current() and never touch the registry.
//
// The stream carries the whole configuration, secrets included, so the registry asks for the
// service token: given one, it is sent as `authorization: Bearer <token>` on every Watch. A
// refusal (a missing or wrong token) is logged as one error line naming the setting, never the
// token, and retried with the same backoff as any broken stream.
class ConfigCache {
 public:
  using Listener = std::function<void(const std::shared_ptr<const ConfigView>&)>;

  ConfigCache(std::shared_ptr<grpc::Channel> channel, std::string watcher,
              std::string service_token = {});
  ~ConfigCache();

  // Adds a listener called (on the watch thread) with each new view, in revision order: the
  // way for a service to react to a configuration change. Call before Start.
  void OnChange(Listener listener);
  void Start();
  void Stop();

  // The latest view, or nullptr before the first snapshot.
  std::shared_ptr<const ConfigView> Current() const;
  // True while the stream is connected and has delivered its first event (a snapshot, or the
  // changes a resumed stream starts with).
  bool Synced() const { return synced_.load(); }
  // Waits up to `timeout_ms` for the first snapshot.
  bool WaitSynced(int timeout_ms) const;

  // The view after `event` on top of `base` (nullptr before the first snapshot): a snapshot
  // replaces it; changes apply when they are newer than it. nullptr when the event is not
  // applicable; `base` itself for an empty event at its revision (the registry saying "current").
  static std::shared_ptr<const ConfigView> Next(const std::shared_ptr<const ConfigView>& base,
                                                const registry::v1::WatchEvent& event);

 private:
  void Run();
  void Publish(std::shared_ptr<const ConfigView> view);

  std::unique_ptr<registry::v1::Registry::Stub> stub_;
  std::string watcher_;
  std::string authorization_;  // "Bearer <service token>", or empty
  std::vector<Listener> listeners_;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> synced_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::shared_ptr<const ConfigView> current_;
  grpc::ClientContext* active_context_ = nullptr;  // guarded by mu_
};

}  // namespace switchboard::configwatch
