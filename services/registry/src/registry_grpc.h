#pragma once

#include <grpcpp/grpcpp.h>

#include <cstddef>

#include "services/registry/src/registry_service.h"
#include "services/registry/src/session_admin.h"
#include "switchboard/configwatch/admin_caller.h"
#include "switchboard/registry/v1/registry.grpc.pb.h"

namespace switchboard::registry {

// The Registry gRPC service (callback API) over a RegistryService: unary calls hand their work
// to the service and are finished from its pool; Watch streams are WatchHub subscribers whose
// writes go through a bounded WriteQueue, so a watcher that cannot keep up is disconnected
// (it reconnects and starts again from a snapshot) instead of buffering without end.
//
// With AdminAccess.required, every admin call needs an admin credential in its `authorization`
// metadata (configwatch::IdentifyAdminCaller): the admin token, or an admin user's API key. A
// member's API key may read the configuration (secrets excepted) and write namespaces,
// endpoints, tool overrides and servers other than STDIO (creating, changing or deleting a
// STDIO server, which runs commands on the runner hosts, is an admin's), and create keys for
// itself. Writes are attributed in the audit log to the caller so identified: the admin user's
// email, "admin-token". The other services' calls (Watch, which streams the whole
// configuration with its secrets, RecordApiKeyUse, RecordServerTools) need the service token
// or an admin credential once the registry has an admin or a service token; with neither they
// are open, as before such tokens existed. Without AdminAccess.required (in-process use)
// nobody is checked and writes are attributed to "unverified:" + the `x-sb-actor` metadata.
class RegistryGrpc final : public v1::Registry::CallbackService {
 public:
  struct AdminAccess {
    bool required = false;           // false: every caller is an admin (in-process use)
    std::string admin_token_sha256;  // lowercase hex; empty = no admin token
    std::string service_token_sha256;  // lowercase hex; empty = no service token
  };
  explicit RegistryGrpc(RegistryService* service, size_t max_pending_events = 256)
      : RegistryGrpc(service, max_pending_events, AdminAccess()) {}

  // `service` must outlive this object and the server it is registered with.
  RegistryGrpc(RegistryService* service, size_t max_pending_events, AdminAccess access);

  grpc::ServerUnaryReactor* Apply(grpc::CallbackServerContext* context,
                                  const v1::ApplyRequest* request,
                                  v1::ApplyResponse* response) override;
  grpc::ServerUnaryReactor* ListServers(grpc::CallbackServerContext* context,
                                        const v1::ListRequest* request,
                                        v1::ListServersResponse* response) override;
  grpc::ServerUnaryReactor* ListNamespaces(grpc::CallbackServerContext* context,
                                           const v1::ListRequest* request,
                                           v1::ListNamespacesResponse* response) override;
  grpc::ServerUnaryReactor* ListEndpoints(grpc::CallbackServerContext* context,
                                          const v1::ListRequest* request,
                                          v1::ListEndpointsResponse* response) override;
  grpc::ServerUnaryReactor* ListUsers(grpc::CallbackServerContext* context,
                                      const v1::ListRequest* request,
                                      v1::ListUsersResponse* response) override;
  grpc::ServerUnaryReactor* CreateApiKey(grpc::CallbackServerContext* context,
                                         const v1::CreateApiKeyRequest* request,
                                         v1::CreateApiKeyResponse* response) override;
  grpc::ServerUnaryReactor* Delete(grpc::CallbackServerContext* context,
                                   const v1::DeleteRequest* request,
                                   v1::DeleteResponse* response) override;
  grpc::ServerUnaryReactor* GetServer(grpc::CallbackServerContext* context,
                                      const v1::GetRequest* request,
                                      v1::ServerResponse* response) override;
  grpc::ServerUnaryReactor* CreateServer(grpc::CallbackServerContext* context,
                                         const v1::CreateServerRequest* request,
                                         v1::ServerResponse* response) override;
  grpc::ServerUnaryReactor* UpdateServer(grpc::CallbackServerContext* context,
                                         const v1::UpdateServerRequest* request,
                                         v1::ServerResponse* response) override;
  grpc::ServerUnaryReactor* GetNamespace(grpc::CallbackServerContext* context,
                                         const v1::GetRequest* request,
                                         v1::NamespaceResponse* response) override;
  grpc::ServerUnaryReactor* CreateNamespace(grpc::CallbackServerContext* context,
                                            const v1::CreateNamespaceRequest* request,
                                            v1::NamespaceResponse* response) override;
  grpc::ServerUnaryReactor* UpdateNamespace(grpc::CallbackServerContext* context,
                                            const v1::UpdateNamespaceRequest* request,
                                            v1::NamespaceResponse* response) override;
  grpc::ServerUnaryReactor* GetEndpoint(grpc::CallbackServerContext* context,
                                        const v1::GetRequest* request,
                                        v1::EndpointResponse* response) override;
  grpc::ServerUnaryReactor* CreateEndpoint(grpc::CallbackServerContext* context,
                                           const v1::CreateEndpointRequest* request,
                                           v1::EndpointResponse* response) override;
  grpc::ServerUnaryReactor* UpdateEndpoint(grpc::CallbackServerContext* context,
                                           const v1::UpdateEndpointRequest* request,
                                           v1::EndpointResponse* response) override;
  grpc::ServerUnaryReactor* GetUser(grpc::CallbackServerContext* context,
                                    const v1::GetRequest* request,
                                    v1::UserResponse* response) override;
  grpc::ServerUnaryReactor* CreateUser(grpc::CallbackServerContext* context,
                                       const v1::CreateUserRequest* request,
                                       v1::UserResponse* response) override;
  grpc::ServerUnaryReactor* UpdateUser(grpc::CallbackServerContext* context,
                                       const v1::UpdateUserRequest* request,
                                       v1::UserResponse* response) override;
  grpc::ServerUnaryReactor* GetToolOverride(grpc::CallbackServerContext* context,
                                            const v1::GetRequest* request,
                                            v1::ToolOverrideResponse* response) override;
  grpc::ServerUnaryReactor* CreateToolOverride(grpc::CallbackServerContext* context,
                                               const v1::CreateToolOverrideRequest* request,
                                               v1::ToolOverrideResponse* response) override;
  grpc::ServerUnaryReactor* UpdateToolOverride(grpc::CallbackServerContext* context,
                                               const v1::UpdateToolOverrideRequest* request,
                                               v1::ToolOverrideResponse* response) override;
  grpc::ServerUnaryReactor* ListToolOverrides(grpc::CallbackServerContext* context,
                                              const v1::ListToolOverridesRequest* request,
                                              v1::ListToolOverridesResponse* response) override;
  grpc::ServerUnaryReactor* ListApiKeys(grpc::CallbackServerContext* context,
                                        const v1::ListApiKeysRequest* request,
                                        v1::ListApiKeysResponse* response) override;
  grpc::ServerUnaryReactor* ListAudit(grpc::CallbackServerContext* context,
                                      const v1::ListAuditRequest* request,
                                      v1::ListAuditResponse* response) override;
  grpc::ServerUnaryReactor* RecordApiKeyUse(grpc::CallbackServerContext* context,
                                            const v1::RecordApiKeyUseRequest* request,
                                            v1::RecordApiKeyUseResponse* response) override;
  grpc::ServerUnaryReactor* RecordServerTools(grpc::CallbackServerContext* context,
                                              const v1::RecordServerToolsRequest* request,
                                              v1::RecordServerToolsResponse* response) override;
  grpc::ServerWriteReactor<v1::WatchEvent>* Watch(grpc::CallbackServerContext* context,
                                                  const v1::WatchRequest* request) override;
  grpc::ServerUnaryReactor* ListSessions(grpc::CallbackServerContext* context,
                                         const v1::ListSessionsRequest* request,
                                         v1::ListSessionsResponse* response) override;
  grpc::ServerUnaryReactor* EndSessions(grpc::CallbackServerContext* context,
                                        const v1::EndSessionsRequest* request,
                                        v1::EndSessionsResponse* response) override;
  grpc::ServerUnaryReactor* ListToolCalls(grpc::CallbackServerContext* context,
                                          const v1::ListToolCallsRequest* request,
                                          v1::ListToolCallsResponse* response) override;

  // Serves ListSessions and EndSessions (without: FailedPrecondition). Call before serving;
  // `sessions` must outlive the server.
  void SetSessionAdmin(SessionAdmin* sessions) { sessions_ = sessions; }

 private:
  enum class Need { kMember, kAdmin };
  // An admin call's caller once let in (`refused` null, `actor` naming it for the audit log),
  // or the reactor already finished with the refusal.
  struct Admission {
    grpc::ServerUnaryReactor* refused = nullptr;
    bool member = false;  // a member (not an admin): may not touch STDIO servers
    std::string actor;
  };
  configwatch::AdminCaller Caller(grpc::CallbackServerContext* context) const;
  // `own_user` (optional): a member may act only on this user's behalf when it is their own.
  // `denied` (optional): the message a member is refused with, in place of the generic one.
  Admission Admit(grpc::CallbackServerContext* context, Need need, std::string_view own_user = {},
                  std::string_view denied = {});
  // Lets a member's server create or update through unless it is a STDIO server.
  Admission AdmitServerWrite(grpc::CallbackServerContext* context, const v1::Server& server);
  // OK for a caller of the other services' calls; else the refusal (logged, naming `rpc`).
  grpc::Status CheckServiceCaller(grpc::CallbackServerContext* context, std::string_view rpc) const;
  // The audit log's name for `caller`.
  std::string ActorOf(grpc::CallbackServerContext* context,
                      const configwatch::AdminCaller& caller) const;

  RegistryService* service_;
  size_t max_pending_events_;
  SessionAdmin* sessions_ = nullptr;
  AdminAccess access_;
};

}  // namespace switchboard::registry
