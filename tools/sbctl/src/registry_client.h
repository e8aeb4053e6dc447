#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <memory>
#include <string>
#include <utility>

#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::sbctl {

// The registry calls sbctl makes; commands are written against this so they can be tested
// without a server.
class RegistryClient {
 public:
  virtual ~RegistryClient() = default;
  virtual absl::StatusOr<registry::v1::ApplyResponse> Apply(
      const registry::v1::ApplyRequest& request) = 0;
  virtual absl::StatusOr<registry::v1::ListServersResponse> ListServers() = 0;
  // With secrets in clear (export --show-secrets).
  virtual absl::StatusOr<registry::v1::ListServersResponse> ListServersWithSecrets() {
    return absl::UnimplementedError("not supported");
  }
  virtual absl::StatusOr<registry::v1::ListNamespacesResponse> ListNamespaces() = 0;
  virtual absl::StatusOr<registry::v1::ListEndpointsResponse> ListEndpoints() = 0;
  virtual absl::StatusOr<registry::v1::ListUsersResponse> ListUsers() = 0;
  virtual absl::StatusOr<registry::v1::CreateApiKeyResponse> CreateApiKey(
      const registry::v1::CreateApiKeyRequest& request) = 0;
  virtual absl::StatusOr<registry::v1::DeleteResponse> Delete(
      const registry::v1::DeleteRequest& request) = 0;
  virtual absl::StatusOr<registry::v1::ListToolOverridesResponse> ListToolOverrides() {
    return absl::UnimplementedError("not supported");
  }
  virtual absl::StatusOr<registry::v1::ListApiKeysResponse> ListApiKeys() {
    return absl::UnimplementedError("not supported");
  }
  virtual absl::StatusOr<registry::v1::ListSessionsResponse> ListSessions(
      const registry::v1::ListSessionsRequest& request) {
    (void)request;
    return absl::UnimplementedError("not supported");
  }
  virtual absl::StatusOr<registry::v1::EndSessionsResponse> EndSessions(
      const registry::v1::EndSessionsRequest& request) {
    (void)request;
    return absl::UnimplementedError("not supported");
  }
  virtual absl::StatusOr<registry::v1::ListToolCallsResponse> ListToolCalls(
      const registry::v1::ListToolCallsRequest& request) {
    (void)request;
    return absl::UnimplementedError("not supported");
  }
  // One object (server, namespace, endpoint, user or tool override) by key, as an UPSERT
  // Change carrying it, and the revision at which it last changed.
  virtual absl::StatusOr<std::pair<registry::v1::Change, int64_t>> Get(
      registry::v1::Change::Kind kind, const std::string& name) {
    (void)kind;
    (void)name;
    return absl::UnimplementedError("not supported");
  }
  // Creates a namespace (expected_revision 0) or updates it (the revision it was read at).
  virtual absl::StatusOr<registry::v1::NamespaceResponse> PutNamespace(
      const registry::v1::Namespace& ns, int64_t expected_revision) {
    (void)ns;
    (void)expected_revision;
    return absl::UnimplementedError("not supported");
  }
};

// A RegistryClient over gRPC to `address` (HOST:PORT); every call fails after `deadline`.
std::unique_ptr<RegistryClient> MakeGrpcRegistryClient(const std::string& address,
                                                       std::chrono::milliseconds deadline,
    const std::string& admin_token = {});

}  // namespace switchboard::sbctl
