#include <grpcpp/grpcpp.h>

#include "switchboard/grpcutil/server.h"
#include "switchboard/registry/v1/registry.grpc.pb.h"
#include "tools/sbctl/src/registry_client.h"

namespace switchboard::sbctl {
namespace {

namespace v1 = registry::v1;

class GrpcRegistryClient final : public RegistryClient {
 public:
  GrpcRegistryClient(const std::string& address, std::chrono::milliseconds deadline,
                    const std::string& admin_token)
      : authorization_(admin_token.empty() ? "" : "Bearer " + admin_token),
        stub_(v1::Registry::NewStub(grpcutil::MakeChannel(address))), deadline_(deadline) {}

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
  absl::StatusOr<v1::ListServersResponse> ListServersWithSecrets() override {
    v1::ListRequest request;
    request.set_include_secrets(true);
    return Call<v1::ListServersResponse>(&v1::Registry::Stub::ListServers, request);
  }
  absl::StatusOr<v1::ListToolOverridesResponse> ListToolOverrides() override {
    return Call<v1::ListToolOverridesResponse>(&v1::Registry::Stub::ListToolOverrides,
                                               v1::ListToolOverridesRequest());
  }
  absl::StatusOr<v1::ListSessionsResponse> ListSessions(
      const v1::ListSessionsRequest& request) override {
    return Call<v1::ListSessionsResponse>(&v1::Registry::Stub::ListSessions, request);
  }
  absl::StatusOr<v1::EndSessionsResponse> EndSessions(
      const v1::EndSessionsRequest& request) override {
    return Call<v1::EndSessionsResponse>(&v1::Registry::Stub::EndSessions, request);
  }
  absl::StatusOr<v1::ListToolCallsResponse> ListToolCalls(
      const v1::ListToolCallsRequest& request) override {
    return Call<v1::ListToolCallsResponse>(&v1::Registry::Stub::ListToolCalls, request);
  }
  absl::StatusOr<v1::ListApiKeysResponse> ListApiKeys() override {
    return Call<v1::ListApiKeysResponse>(&v1::Registry::Stub::ListApiKeys,
                                         v1::ListApiKeysRequest());
  }
  absl::StatusOr<std::pair<v1::Change, int64_t>> Get(v1::Change::Kind kind,
                                                     const std::string& name) override {
    v1::GetRequest request;
    request.set_name(name);
    v1::Change change;
    change.set_op(v1::Change::UPSERT);
    change.set_kind(kind);
    change.set_name(name);
    int64_t revision = 0;
    absl::Status status;
    switch (kind) {
      case v1::Change::SERVER:
        status = Fetch(&v1::Registry::Stub::GetServer, request, &v1::ServerResponse::server,
                       change.mutable_server(), &revision);
        break;
      case v1::Change::NAMESPACE:
        status = Fetch(&v1::Registry::Stub::GetNamespace, request,
                       &v1::NamespaceResponse::namespace_, change.mutable_namespace_(), &revision);
        break;
      case v1::Change::ENDPOINT:
        status = Fetch(&v1::Registry::Stub::GetEndpoint, request, &v1::EndpointResponse::endpoint,
                       change.mutable_endpoint(), &revision);
        break;
      case v1::Change::USER:
        status = Fetch(&v1::Registry::Stub::GetUser, request, &v1::UserResponse::user,
                       change.mutable_user(), &revision);
        break;
      case v1::Change::TOOL_OVERRIDE:
        status = Fetch(&v1::Registry::Stub::GetToolOverride, request,
                       &v1::ToolOverrideResponse::tool_override, change.mutable_tool_override(),
                       &revision);
        break;
      default:
        return absl::InvalidArgumentError("this kind has no Get");
    }
    if (!status.ok()) return status;
    return std::make_pair(std::move(change), revision);
  }
  absl::StatusOr<v1::NamespaceResponse> PutNamespace(const v1::Namespace& ns,
                                                     int64_t expected_revision) override {
    if (expected_revision == 0) {
      v1::CreateNamespaceRequest request;
      *request.mutable_namespace_() = ns;
      return Call<v1::NamespaceResponse>(&v1::Registry::Stub::CreateNamespace, request);
    }
    v1::UpdateNamespaceRequest request;
    *request.mutable_namespace_() = ns;
    request.set_expected_revision(expected_revision);
    return Call<v1::NamespaceResponse>(&v1::Registry::Stub::UpdateNamespace, request);
  }

 private:
  template <typename Response, typename Request, typename Method>
  absl::StatusOr<Response> Call(Method method, const Request& request) {
    return grpcutil::CallUnary<Response>(*stub_, method, request, deadline_, authorization_);
  }

  // Calls a Get RPC and copies the object it returns (`field` of the response) into `out`.
  template <typename Response, typename Object, typename Method>
  absl::Status Fetch(Method method, const v1::GetRequest& request,
                     const Object& (Response::*field)() const, Object* out, int64_t* revision) {
    absl::StatusOr<Response> response = Call<Response>(method, request);
    if (!response.ok()) return response.status();
    *out = ((*response).*field)();
    *revision = response->revision();
    return absl::OkStatus();
  }

  std::string authorization_;  // "Bearer <admin token>", or empty
  std::unique_ptr<v1::Registry::Stub> stub_;
  std::chrono::milliseconds deadline_;
};

}  // namespace

std::unique_ptr<RegistryClient> MakeGrpcRegistryClient(const std::string& address,
                                                       std::chrono::milliseconds deadline,
    const std::string& admin_token) {
  return std::make_unique<GrpcRegistryClient>(address, deadline, admin_token);
}

}  // namespace switchboard::sbctl
