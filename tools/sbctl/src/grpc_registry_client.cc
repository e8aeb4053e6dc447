#include <grpcpp/grpcpp.h>

#include "switchboard/grpcutil/server.h"
#include "switchboard/registry/v1/registry.grpc.pb.h"
#include "tools/sbctl/src/registry_client.h"

namespace switchboard::sbctl {
namespace {

namespace v1 = registry::v1;

class GrpcRegistryClient final : public RegistryClient {
 public:
  GrpcRegistryClient(const std::string& address, std::chrono::milliseconds deadline)
      : stub_(v1::Registry::NewStub(grpcutil::MakeChannel(address))), deadline_(deadline) {}

  absl::StatusOr<v1::ApplyResponse> Apply(const v1::ApplyRequest& request) override {
    return Call<v1::ApplyResponse>(&v1::Registry::Stub::Apply, request);
  }
  absl::StatusOr<v1::ListServersResponse> ListServers() override {
    return Call<v1::ListServersResponse>(&v1::Registry::Stub::ListServers, v1::ListRequest());
  }
  absl::StatusOr<v1::ListNamespacesResponse> ListNamespaces() override {
    return Call<v1::ListNamespacesResponse>(&v1::Registry::Stub::ListNamespaces, v1::ListRequest());
  }
  absl::StatusOr<v1::ListEndpointsResponse> ListEndpoints() override {
    return Call<v1::ListEndpointsResponse>(&v1::Registry::Stub::ListEndpoints, v1::ListRequest());
  }
  absl::StatusOr<v1::ListUsersResponse> ListUsers() override {
    return Call<v1::ListUsersResponse>(&v1::Registry::Stub::ListUsers, v1::ListRequest());
  }
  absl::StatusOr<v1::CreateApiKeyResponse> CreateApiKey(
      const v1::CreateApiKeyRequest& request) override {
    return Call<v1::CreateApiKeyResponse>(&v1::Registry::Stub::CreateApiKey, request);
  }
  absl::StatusOr<v1::DeleteResponse> Delete(const v1::DeleteRequest& request) override {
    return Call<v1::DeleteResponse>(&v1::Registry::Stub::Delete, request);
  }

 private:
  template <typename Response, typename Request, typename Method>
  absl::StatusOr<Response> Call(Method method, const Request& request) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + deadline_);
    Response response;
    grpc::Status status = (stub_.get()->*method)(&context, request, &response);
    if (!status.ok()) return grpcutil::ToAbsl(status);
    return response;
  }

  std::unique_ptr<v1::Registry::Stub> stub_;
  std::chrono::milliseconds deadline_;
};

}  // namespace

std::unique_ptr<RegistryClient> MakeGrpcRegistryClient(const std::string& address,
                                                       std::chrono::milliseconds deadline) {
  return std::make_unique<GrpcRegistryClient>(address, deadline);
}

}  // namespace switchboard::sbctl
