#include "services/registry/src/registry_grpc.h"

#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "switchboard/common/log.h"
#include "switchboard/grpcutil/server.h"
#include "switchboard/grpcutil/write_queue.h"

namespace switchboard::registry {
namespace {

using EventPtr = std::shared_ptr<const v1::WatchEvent>;

constexpr size_t kMaxWatcherName = 100;

// Starts a unary call: `start` hands the service a callback that copies its result into the
// response and finishes the call.
template <typename Response, typename Start>
grpc::ServerUnaryReactor* Unary(grpc::CallbackServerContext* context, Response* response,
                                Start start) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  start([reactor, response](absl::StatusOr<Response> result) {
    if (result.ok()) *response = std::move(*result);
    reactor->Finish(grpcutil::ToGrpc(result.status()));
  });
  return reactor;
}

// One Watch stream. Owned by itself (self_) until gRPC calls OnDone, and by the hub while
// subscribed, so a push racing with the end of the stream finds the object alive (and its
// queue closed).
class WatchReactor final : public grpc::ServerWriteReactor<v1::WatchEvent>, public WatchSubscriber {
 public:
  WatchReactor(WatchHub* hub, std::string watcher, size_t max_pending)
      : hub_(hub),
        watcher_(std::move(watcher)),
        queue_([this](const EventPtr* event) { StartWrite(event->get()); },
               [this] { Finish(FinalStatus()); }, max_pending) {}

  // Subscribes; on refusal ends the call at once.
  void Begin(std::shared_ptr<WatchReactor> self) {
    self_ = std::move(self);
    absl::Status subscribed = hub_->Subscribe(self_);
    if (!subscribed.ok()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        final_status_ = grpcutil::ToGrpc(subscribed);
      }
      queue_.Close();
      return;
    }
    log::Info("watch started", {{"watcher", watcher_}, {"revision", hub_->revision()}});
  }

  bool Push(EventPtr event) override {
    if (queue_.closed()) return false;  // the stream is already ending
    if (queue_.Push(std::move(event))) return true;
    std::lock_guard<std::mutex> lock(mu_);
    if (!ended_by_peer_ && final_status_.ok()) {
      final_status_ = grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                                   "watcher too slow; reconnect for a fresh snapshot");
      log::Warn("watcher cannot keep up; closing its stream", {{"watcher", watcher_}});
    }
    return false;
  }

  void Close() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (final_status_.ok()) {
        final_status_ = grpc::Status(grpc::StatusCode::UNAVAILABLE, "registry shutting down");
      }
    }
    queue_.Close();
  }

  void OnWriteDone(bool ok) override { queue_.OnWriteDone(ok); }

  void OnCancel() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      ended_by_peer_ = true;
    }
    queue_.Close();
  }

  void OnDone() override {
    hub_->Unsubscribe(this);
    log::Info("watch ended", {{"watcher", watcher_}});
    std::shared_ptr<WatchReactor> self = std::move(self_);
    // `self` may be the last owner: nothing touches members after this point.
  }

 private:
  grpc::Status FinalStatus() {
    std::lock_guard<std::mutex> lock(mu_);
    return final_status_;
  }

  WatchHub* hub_;
  std::string watcher_;
  grpcutil::WriteQueue<EventPtr> queue_;
  std::shared_ptr<WatchReactor> self_;
  std::mutex mu_;
  grpc::Status final_status_;   // guarded by mu_
  bool ended_by_peer_ = false;  // guarded by mu_
};

}  // namespace

RegistryGrpc::RegistryGrpc(RegistryService* service, size_t max_pending_events)
    : service_(service), max_pending_events_(max_pending_events) {}

grpc::ServerUnaryReactor* RegistryGrpc::Apply(grpc::CallbackServerContext* context,
                                              const v1::ApplyRequest* request,
                                              v1::ApplyResponse* response) {
  return Unary(context, response, [&](auto done) { service_->Apply(*request, std::move(done)); });
}

grpc::ServerUnaryReactor* RegistryGrpc::ListServers(grpc::CallbackServerContext* context,
                                                    const v1::ListRequest*,
                                                    v1::ListServersResponse* response) {
  return Unary(context, response, [&](auto done) { service_->ListServers(std::move(done)); });
}

grpc::ServerUnaryReactor* RegistryGrpc::ListNamespaces(grpc::CallbackServerContext* context,
                                                       const v1::ListRequest*,
                                                       v1::ListNamespacesResponse* response) {
  return Unary(context, response, [&](auto done) { service_->ListNamespaces(std::move(done)); });
}

grpc::ServerUnaryReactor* RegistryGrpc::ListEndpoints(grpc::CallbackServerContext* context,
                                                      const v1::ListRequest*,
                                                      v1::ListEndpointsResponse* response) {
  return Unary(context, response, [&](auto done) { service_->ListEndpoints(std::move(done)); });
}

grpc::ServerUnaryReactor* RegistryGrpc::ListUsers(grpc::CallbackServerContext* context,
                                                  const v1::ListRequest*,
                                                  v1::ListUsersResponse* response) {
  return Unary(context, response, [&](auto done) { service_->ListUsers(std::move(done)); });
}

grpc::ServerUnaryReactor* RegistryGrpc::CreateApiKey(grpc::CallbackServerContext* context,
                                                     const v1::CreateApiKeyRequest* request,
                                                     v1::CreateApiKeyResponse* response) {
  return Unary(context, response,
               [&](auto done) { service_->CreateApiKey(*request, std::move(done)); });
}

grpc::ServerUnaryReactor* RegistryGrpc::Delete(grpc::CallbackServerContext* context,
                                               const v1::DeleteRequest* request,
                                               v1::DeleteResponse* response) {
  return Unary(context, response, [&](auto done) { service_->Delete(*request, std::move(done)); });
}

grpc::ServerWriteReactor<v1::WatchEvent>* RegistryGrpc::Watch(grpc::CallbackServerContext*,
                                                              const v1::WatchRequest* request) {
  // The name is only for logs; keep a client from filling them.
  std::string watcher =
      request->watcher().empty() ? "unnamed" : request->watcher().substr(0, kMaxWatcherName);
  auto reactor = std::make_shared<WatchReactor>(&service_->watch_hub(), std::move(watcher),
                                                max_pending_events_);
  WatchReactor* raw = reactor.get();
  raw->Begin(std::move(reactor));
  return raw;
}

}  // namespace switchboard::registry
