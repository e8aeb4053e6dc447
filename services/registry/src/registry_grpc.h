#pragma once

#include <grpcpp/grpcpp.h>

#include <cstddef>

#include "services/registry/src/registry_service.h"
#include "switchboard/registry/v1/registry.grpc.pb.h"

namespace switchboard::registry {

// The Registry gRPC service (callback API) over a RegistryService: unary calls hand their work
// to the service and are finished from its pool; Watch streams are WatchHub subscribers whose
// writes go through a bounded WriteQueue, so a watcher that cannot keep up is disconnected
// (it reconnects and starts again from a snapshot) instead of buffering without end.
class RegistryGrpc final : public v1::Registry::CallbackService {
 public:
  // `service` must outlive this object and the server it is registered with.
  explicit RegistryGrpc(RegistryService* service, size_t max_pending_events = 256);

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
  grpc::ServerWriteReactor<v1::WatchEvent>* Watch(grpc::CallbackServerContext* context,
                                                  const v1::WatchRequest* request) override;

 private:
  RegistryService* service_;
  size_t max_pending_events_;
};

}  // namespace switchboard::registry
