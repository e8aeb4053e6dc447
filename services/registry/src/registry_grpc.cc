#include "services/registry/src/registry_grpc.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "services/registry/src/snapshot_diff.h"
#include "switchboard/common/log.h"
#include "switchboard/common/strings.h"
#include "switchboard/grpcutil/server.h"
#include "switchboard/grpcutil/write_queue.h"

namespace switchboard::registry {
namespace {

using EventPtr = std::shared_ptr<const v1::WatchEvent>;

constexpr size_t kMaxWatcherName = 100;
constexpr size_t kMaxActor = 200;
constexpr char kActorHeader[] = "x-sb-actor";

using v1::Change;

// The name a caller gives itself in the x-sb-actor metadata (unverified), cut to a bounded,
// printable string; empty when absent.
std::string ClaimedActor(grpc::CallbackServerContext* context) {
  const auto& metadata = context->client_metadata();
  auto it = metadata.find(kActorHeader);
  if (it == metadata.end() || it->second.empty()) return "";
  std::string actor(it->second.data(), std::min(it->second.size(), kMaxActor));
  for (char& c : actor) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return actor;
}

// Why a member may not write `server`: STDIO servers run commands on the runner hosts.
std::string StdioDenied(std::string_view server) {
  return StrCat("server '", server,
                "' is a STDIO server, which runs commands on the runner hosts: only an admin may "
                "create, change or delete one");
}

// Refuses a member's write over a stored STDIO server.
absl::Status MemberMayOverwrite(const Change& stored) {
  if (stored.kind() == Change::SERVER && stored.server().type() == "STDIO") {
    return absl::PermissionDeniedError(StdioDenied(stored.server().name()));
  }
  return absl::OkStatus();
}

// How each admin response carries its object.
void SetObject(Change* c, v1::ServerResponse* r) { r->mutable_server()->Swap(c->mutable_server()); }
void SetObject(Change* c, v1::NamespaceResponse* r) {
  r->mutable_namespace_()->Swap(c->mutable_namespace_());
}
void SetObject(Change* c, v1::EndpointResponse* r) {
  r->mutable_endpoint()->Swap(c->mutable_endpoint());
}
void SetObject(Change* c, v1::UserResponse* r) { r->mutable_user()->Swap(c->mutable_user()); }
void SetObject(Change* c, v1::ToolOverrideResponse* r) {
  r->mutable_tool_override()->Swap(c->mutable_tool_override());
}

// Finishes a Get/Create/Update call with the object as stored and its revision.
template <typename Response>
RegistryService::Done<StoredObject> ObjectDone(grpc::ServerUnaryReactor* reactor,
                                               Response* response) {
  return [reactor, response](absl::StatusOr<StoredObject> result) {
    if (result.ok()) {
      SetObject(&result->object, response);
      response->set_revision(result->revision);
    }
    reactor->Finish(grpcutil::ToGrpc(result.status()));
  };
}

template <typename Response>
grpc::ServerUnaryReactor* GetObject(RegistryService* service, grpc::CallbackServerContext* context,
                                    Change::Kind kind, const v1::GetRequest* request,
                                    Response* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  service->Get(kind, request->name(), ObjectDone(reactor, response));
  return reactor;
}

template <typename Response, typename Object>
grpc::ServerUnaryReactor* PutObject(RegistryService* service, grpc::CallbackServerContext* context,
                                    WriteMode mode, const Object& object, int64_t expected_revision,
                                    std::string actor, Response* response, StoredCheck check = {}) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  service->Put(mode, UpsertChange(object), expected_revision, std::move(actor),
               ObjectDone(reactor, response), std::move(check));
  return reactor;
}

// A unary call ended at once with `status` (a refusal).
grpc::ServerUnaryReactor* Finished(grpc::CallbackServerContext* context, grpc::Status status) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  reactor->Finish(std::move(status));
  return reactor;
}

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
  void Begin(std::shared_ptr<WatchReactor> self, int64_t from_revision) {
    self_ = std::move(self);
    bool resumed = false;
    absl::Status subscribed = hub_->Subscribe(self_, from_revision, &resumed);
    if (!subscribed.ok()) {
      {
        std::lock_guard<std::mutex> lock(mu_);
        final_status_ = grpcutil::ToGrpc(subscribed);
      }
      queue_.Close();
      return;
    }
    log::Info("watch started", {{"watcher", watcher_},
                                {"revision", hub_->revision()},
                                {"from_revision", from_revision},
                                {"resumed", resumed}});
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

// A Watch refused before it started: ends at once with the refusal.
class RefusedWatch final : public grpc::ServerWriteReactor<v1::WatchEvent> {
 public:
  explicit RefusedWatch(grpc::Status status) { Finish(std::move(status)); }
  void OnDone() override { delete this; }
};

}  // namespace

RegistryGrpc::RegistryGrpc(RegistryService* service, size_t max_pending_events,
                           AdminAccess access)
    : service_(service), max_pending_events_(max_pending_events), access_(std::move(access)) {}

configwatch::AdminCaller RegistryGrpc::Caller(grpc::CallbackServerContext* context) const {
  if (!access_.required) return {configwatch::AdminCaller::Role::kAdmin, "unchecked", ""};
  std::shared_ptr<const v1::Snapshot> snapshot = service_->watch_hub().snapshot();
  configwatch::AdminCredentialLookup lookup;
  lookup.find_key = [&snapshot](std::string_view sha) -> const v1::ApiKey* {
    if (snapshot == nullptr) return nullptr;
    for (const v1::ApiKey& key : snapshot->api_keys()) {
      if (key.key_sha256() == sha) return &key;
    }
    return nullptr;
  };
  lookup.find_user = [&snapshot](std::string_view email) -> const v1::User* {
    if (snapshot == nullptr) return nullptr;
    for (const v1::User& user : snapshot->users()) {
      if (user.email() == email) return &user;
    }
    return nullptr;
  };
  return configwatch::IdentifyAdminCaller(*context, access_.admin_token_sha256, lookup,
                                          access_.service_token_sha256);
}

std::string RegistryGrpc::ActorOf(grpc::CallbackServerContext* context,
                                  const configwatch::AdminCaller& caller) const {
  if (access_.required) return caller.name;
  // Nobody is checked: the caller's own claim, marked as such.
  std::string claimed = ClaimedActor(context);
  return claimed.empty() ? std::string(kUnknownActor) : StrCat("unverified:", claimed);
}

RegistryGrpc::Admission RegistryGrpc::Admit(grpc::CallbackServerContext* context, Need need,
                                            std::string_view own_user, std::string_view denied) {
  using Role = configwatch::AdminCaller::Role;
  configwatch::AdminCaller caller = Caller(context);
  grpc::Status refusal;
  if (caller.role == Role::kNone) {
    refusal = grpc::Status(grpc::StatusCode::UNAUTHENTICATED, caller.reason);
  } else if (caller.role == Role::kService) {
    refusal = grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                           "the service token is for the services' internal calls; the admin API "
                           "needs an admin credential: the admin token or an admin's API key");
  } else if (caller.role == Role::kMember && need == Need::kAdmin) {
    refusal = grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                           !denied.empty()
                               ? std::string(denied)
                               : "this needs an admin (members cannot create, change or delete "
                                 "STDIO servers, which run commands on the runner hosts, nor "
                                 "manage users, keys, secrets or the audit log)");
  } else if (caller.role == Role::kMember && !own_user.empty() && own_user != caller.name) {
    refusal = grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                           "members may act for themselves only (their own keys, sessions and "
                           "calls)");
  } else {
    return {nullptr, caller.role == Role::kMember, ActorOf(context, caller)};
  }
  log::Info("admin call refused", {{"caller", caller.name}, {"code", refusal.error_code()}});
  return {Finished(context, std::move(refusal)), false, ""};
}

RegistryGrpc::Admission RegistryGrpc::AdmitServerWrite(grpc::CallbackServerContext* context,
                                                       const v1::Server& server) {
  if (server.type() != "STDIO") return Admit(context, Need::kMember);
  return Admit(context, Need::kAdmin, {}, StdioDenied(server.name()));
}

grpc::Status RegistryGrpc::CheckServiceCaller(grpc::CallbackServerContext* context,
                                              std::string_view rpc) const {
  // With no token configured at all the services have nothing to present (start-up warns).
  if (access_.admin_token_sha256.empty() && access_.service_token_sha256.empty()) {
    return grpc::Status::OK;
  }
  using Role = configwatch::AdminCaller::Role;
  configwatch::AdminCaller caller = Caller(context);
  grpc::Status refusal;
  if (caller.role == Role::kService || caller.role == Role::kAdmin) return grpc::Status::OK;
  if (caller.role == Role::kMember) {
    refusal = grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                           StrCat(rpc,
                                  " is an internal call of the Switchboard services: it needs the "
                                  "service token or an admin credential, not a member's API key"));
  } else {
    refusal = grpc::Status(
        grpc::StatusCode::UNAUTHENTICATED,
        StrCat(rpc,
               " needs a service credential: `authorization: Bearer <service token>` (the "
               "service_token setting of edge, auth, router and runner) or an admin credential"));
  }
  log::Warn("internal call refused",
            {{"rpc", rpc}, {"caller", caller.name}, {"code", refusal.error_code()}});
  return refusal;
}

grpc::ServerUnaryReactor* RegistryGrpc::Apply(grpc::CallbackServerContext* context,
                                              const v1::ApplyRequest* request,
                                              v1::ApplyResponse* response) {
  Admission admitted = Admit(context, Need::kAdmin);
  if (admitted.refused != nullptr) return admitted.refused;
  return Unary(context, response,
               [&](auto done) { service_->Apply(*request, std::move(done), admitted.actor); });
}

grpc::ServerUnaryReactor* RegistryGrpc::ListServers(grpc::CallbackServerContext* context,
                                                    const v1::ListRequest* request,
                                                    v1::ListServersResponse* response) {
  Admission admitted = Admit(context, request->include_secrets() ? Need::kAdmin : Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return Unary(context, response, [&](auto done) {
    service_->ListServers(std::move(done), request->include_secrets(), admitted.actor);
  });
}

grpc::ServerUnaryReactor* RegistryGrpc::ListNamespaces(grpc::CallbackServerContext* context,
                                                       const v1::ListRequest*,
                                                       v1::ListNamespacesResponse* response) {
  Admission admitted = Admit(context, Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return Unary(context, response, [&](auto done) { service_->ListNamespaces(std::move(done)); });
}

grpc::ServerUnaryReactor* RegistryGrpc::ListEndpoints(grpc::CallbackServerContext* context,
                                                      const v1::ListRequest*,
                                                      v1::ListEndpointsResponse* response) {
  Admission admitted = Admit(context, Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return Unary(context, response, [&](auto done) { service_->ListEndpoints(std::move(done)); });
}

grpc::ServerUnaryReactor* RegistryGrpc::ListUsers(grpc::CallbackServerContext* context,
                                                  const v1::ListRequest*,
                                                  v1::ListUsersResponse* response) {
  Admission admitted = Admit(context, Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return Unary(context, response, [&](auto done) { service_->ListUsers(std::move(done)); });
}

grpc::ServerUnaryReactor* RegistryGrpc::CreateApiKey(grpc::CallbackServerContext* context,
                                                     const v1::CreateApiKeyRequest* request,
                                                     v1::CreateApiKeyResponse* response) {
  // Members make keys for themselves; keys of other users are an admin's to make.
  Admission admitted = Admit(context, Need::kMember, request->user_email());
  if (admitted.refused != nullptr) return admitted.refused;
  return Unary(context, response, [&](auto done) {
    service_->CreateApiKey(*request, std::move(done), admitted.actor);
  });
}

grpc::ServerUnaryReactor* RegistryGrpc::Delete(grpc::CallbackServerContext* context,
                                               const v1::DeleteRequest* request,
                                               v1::DeleteResponse* response) {
  const bool users_or_keys = request->kind() == Change::USER || request->kind() == Change::API_KEY;
  Admission admitted = Admit(context, users_or_keys ? Need::kAdmin : Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  // Whether a member's server is STDIO is known from the stored row, checked where it is deleted.
  StoredCheck check;
  if (admitted.member && request->kind() == Change::SERVER) check = MemberMayOverwrite;
  return Unary(context, response, [&](auto done) {
    service_->Delete(*request, std::move(done), admitted.actor, std::move(check));
  });
}

grpc::ServerUnaryReactor* RegistryGrpc::GetServer(grpc::CallbackServerContext* context,
                                                  const v1::GetRequest* request,
                                                  v1::ServerResponse* response) {
  Admission admitted = Admit(context, Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return GetObject(service_, context, Change::SERVER, request, response);
}

grpc::ServerUnaryReactor* RegistryGrpc::CreateServer(grpc::CallbackServerContext* context,
                                                     const v1::CreateServerRequest* request,
                                                     v1::ServerResponse* response) {
  Admission admitted = AdmitServerWrite(context, request->server());
  if (admitted.refused != nullptr) return admitted.refused;
  return PutObject(service_, context, WriteMode::kCreate, request->server(), 0, admitted.actor,
                   response);
}

grpc::ServerUnaryReactor* RegistryGrpc::UpdateServer(grpc::CallbackServerContext* context,
                                                     const v1::UpdateServerRequest* request,
                                                     v1::ServerResponse* response) {
  // A member may change neither a server into a STDIO one nor a STDIO server into another.
  Admission admitted = AdmitServerWrite(context, request->server());
  if (admitted.refused != nullptr) return admitted.refused;
  return PutObject(service_, context, WriteMode::kUpdate, request->server(),
                   request->expected_revision(), admitted.actor, response,
                   admitted.member ? StoredCheck(MemberMayOverwrite) : StoredCheck());
}

grpc::ServerUnaryReactor* RegistryGrpc::GetNamespace(grpc::CallbackServerContext* context,
                                                     const v1::GetRequest* request,
                                                     v1::NamespaceResponse* response) {
  Admission admitted = Admit(context, Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return GetObject(service_, context, Change::NAMESPACE, request, response);
}

grpc::ServerUnaryReactor* RegistryGrpc::CreateNamespace(grpc::CallbackServerContext* context,
                                                        const v1::CreateNamespaceRequest* request,
                                                        v1::NamespaceResponse* response) {
  Admission admitted = Admit(context, Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return PutObject(service_, context, WriteMode::kCreate, request->namespace_(), 0, admitted.actor,
                   response);
}

grpc::ServerUnaryReactor* RegistryGrpc::UpdateNamespace(grpc::CallbackServerContext* context,
                                                        const v1::UpdateNamespaceRequest* request,
                                                        v1::NamespaceResponse* response) {
  Admission admitted = Admit(context, Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return PutObject(service_, context, WriteMode::kUpdate, request->namespace_(),
                   request->expected_revision(), admitted.actor, response);
}

grpc::ServerUnaryReactor* RegistryGrpc::GetEndpoint(grpc::CallbackServerContext* context,
                                                    const v1::GetRequest* request,
                                                    v1::EndpointResponse* response) {
  Admission admitted = Admit(context, Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return GetObject(service_, context, Change::ENDPOINT, request, response);
}

grpc::ServerUnaryReactor* RegistryGrpc::CreateEndpoint(grpc::CallbackServerContext* context,
                                                       const v1::CreateEndpointRequest* request,
                                                       v1::EndpointResponse* response) {
  Admission admitted = Admit(context, Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return PutObject(service_, context, WriteMode::kCreate, request->endpoint(), 0, admitted.actor,
                   response);
}

grpc::ServerUnaryReactor* RegistryGrpc::UpdateEndpoint(grpc::CallbackServerContext* context,
                                                       const v1::UpdateEndpointRequest* request,
                                                       v1::EndpointResponse* response) {
  Admission admitted = Admit(context, Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return PutObject(service_, context, WriteMode::kUpdate, request->endpoint(),
                   request->expected_revision(), admitted.actor, response);
}

grpc::ServerUnaryReactor* RegistryGrpc::GetUser(grpc::CallbackServerContext* context,
                                                const v1::GetRequest* request,
                                                v1::UserResponse* response) {
  Admission admitted = Admit(context, Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return GetObject(service_, context, Change::USER, request, response);
}

grpc::ServerUnaryReactor* RegistryGrpc::CreateUser(grpc::CallbackServerContext* context,
                                                   const v1::CreateUserRequest* request,
                                                   v1::UserResponse* response) {
  Admission admitted = Admit(context, Need::kAdmin);
  if (admitted.refused != nullptr) return admitted.refused;
  return PutObject(service_, context, WriteMode::kCreate, request->user(), 0, admitted.actor,
                   response);
}

grpc::ServerUnaryReactor* RegistryGrpc::UpdateUser(grpc::CallbackServerContext* context,
                                                   const v1::UpdateUserRequest* request,
                                                   v1::UserResponse* response) {
  Admission admitted = Admit(context, Need::kAdmin);
  if (admitted.refused != nullptr) return admitted.refused;
  return PutObject(service_, context, WriteMode::kUpdate, request->user(),
                   request->expected_revision(), admitted.actor, response);
}

grpc::ServerUnaryReactor* RegistryGrpc::GetToolOverride(grpc::CallbackServerContext* context,
                                                        const v1::GetRequest* request,
                                                        v1::ToolOverrideResponse* response) {
  Admission admitted = Admit(context, Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return GetObject(service_, context, Change::TOOL_OVERRIDE, request, response);
}

grpc::ServerUnaryReactor* RegistryGrpc::CreateToolOverride(
    grpc::CallbackServerContext* context, const v1::CreateToolOverrideRequest* request,
    v1::ToolOverrideResponse* response) {
  Admission admitted = Admit(context, Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return PutObject(service_, context, WriteMode::kCreate, request->tool_override(), 0,
                   admitted.actor, response);
}

grpc::ServerUnaryReactor* RegistryGrpc::UpdateToolOverride(
    grpc::CallbackServerContext* context, const v1::UpdateToolOverrideRequest* request,
    v1::ToolOverrideResponse* response) {
  Admission admitted = Admit(context, Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return PutObject(service_, context, WriteMode::kUpdate, request->tool_override(),
                   request->expected_revision(), admitted.actor, response);
}

grpc::ServerUnaryReactor* RegistryGrpc::ListToolOverrides(
    grpc::CallbackServerContext* context, const v1::ListToolOverridesRequest* request,
    v1::ListToolOverridesResponse* response) {
  Admission admitted = Admit(context, Need::kMember);
  if (admitted.refused != nullptr) return admitted.refused;
  return Unary(context, response,
               [&](auto done) { service_->ListToolOverrides(*request, std::move(done)); });
}

grpc::ServerUnaryReactor* RegistryGrpc::ListApiKeys(grpc::CallbackServerContext* context,
                                                    const v1::ListApiKeysRequest* request,
                                                    v1::ListApiKeysResponse* response) {
  Admission admitted = Admit(context, Need::kAdmin);
  if (admitted.refused != nullptr) return admitted.refused;
  return Unary(context, response,
               [&](auto done) { service_->ListApiKeys(*request, std::move(done)); });
}

grpc::ServerUnaryReactor* RegistryGrpc::ListAudit(grpc::CallbackServerContext* context,
                                                  const v1::ListAuditRequest* request,
                                                  v1::ListAuditResponse* response) {
  Admission admitted = Admit(context, Need::kAdmin);
  if (admitted.refused != nullptr) return admitted.refused;
  return Unary(context, response,
               [&](auto done) { service_->ListAudit(*request, std::move(done)); });
}

grpc::ServerUnaryReactor* RegistryGrpc::RecordApiKeyUse(grpc::CallbackServerContext* context,
                                                        const v1::RecordApiKeyUseRequest* request,
                                                        v1::RecordApiKeyUseResponse* response) {
  if (grpc::Status refused = CheckServiceCaller(context, "RecordApiKeyUse"); !refused.ok()) {
    return Finished(context, std::move(refused));
  }
  return Unary(context, response,
               [&](auto done) { service_->RecordApiKeyUse(*request, std::move(done)); });
}

grpc::ServerUnaryReactor* RegistryGrpc::RecordServerTools(
    grpc::CallbackServerContext* context, const v1::RecordServerToolsRequest* request,
    v1::RecordServerToolsResponse* response) {
  if (grpc::Status refused = CheckServiceCaller(context, "RecordServerTools"); !refused.ok()) {
    return Finished(context, std::move(refused));
  }
  return Unary(context, response,
               [&](auto done) { service_->RecordServerTools(*request, std::move(done)); });
}

grpc::ServerUnaryReactor* RegistryGrpc::ListSessions(grpc::CallbackServerContext* context,
                                                     const v1::ListSessionsRequest* request,
                                                     v1::ListSessionsResponse* response) {
  // Members may see their own sessions; an admin anyone's.
  Admission admitted = Admit(context, Need::kMember, request->user_email());
  if (admitted.refused != nullptr) return admitted.refused;
  return Unary(context, response, [&](auto done) {
    if (sessions_ == nullptr) {
      done(absl::FailedPreconditionError("sessions: the registry has no redis_url"));
      return;
    }
    sessions_->List(*request, std::move(done));
  });
}

grpc::ServerUnaryReactor* RegistryGrpc::EndSessions(grpc::CallbackServerContext* context,
                                                    const v1::EndSessionsRequest* request,
                                                    v1::EndSessionsResponse* response) {
  Admission admitted = Admit(context, Need::kMember, request->user_email());
  if (admitted.refused != nullptr) return admitted.refused;
  return Unary(context, response, [&](auto done) {
    if (sessions_ == nullptr) {
      done(absl::FailedPreconditionError("sessions: the registry has no redis_url"));
      return;
    }
    sessions_->End(*request, std::move(done));
  });
}

grpc::ServerUnaryReactor* RegistryGrpc::ListToolCalls(grpc::CallbackServerContext* context,
                                                      const v1::ListToolCallsRequest* request,
                                                      v1::ListToolCallsResponse* response) {
  // Everyone's calls are an admin's to read; a member may read their own.
  Admission admitted = Admit(context, request->user_email().empty() ? Need::kAdmin : Need::kMember,
                             request->user_email());
  if (admitted.refused != nullptr) return admitted.refused;
  return Unary(context, response,
               [&](auto done) { service_->ListToolCalls(*request, std::move(done)); });
}

grpc::ServerWriteReactor<v1::WatchEvent>* RegistryGrpc::Watch(grpc::CallbackServerContext* context,
                                                              const v1::WatchRequest* request) {
  // The stream carries every secret of the configuration.
  if (grpc::Status refused = CheckServiceCaller(context, "Watch"); !refused.ok()) {
    return new RefusedWatch(std::move(refused));
  }
  // The name is only for logs; keep a client from filling them.
  std::string watcher =
      request->watcher().empty() ? "unnamed" : request->watcher().substr(0, kMaxWatcherName);
  auto reactor = std::make_shared<WatchReactor>(&service_->watch_hub(), std::move(watcher),
                                                max_pending_events_);
  WatchReactor* raw = reactor.get();
  raw->Begin(std::move(reactor), request->from_revision());
  return raw;
}

}  // namespace switchboard::registry
