#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <memory>
#include <string>

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
  virtual absl::StatusOr<registry::v1::ListNamespacesResponse> ListNamespaces() = 0;
  virtual absl::StatusOr<registry::v1::ListEndpointsResponse> ListEndpoints() = 0;
  virtual absl::StatusOr<registry::v1::ListUsersResponse> ListUsers() = 0;
  virtual absl::StatusOr<registry::v1::CreateApiKeyResponse> CreateApiKey(
      const registry::v1::CreateApiKeyRequest& request) = 0;
  virtual absl::StatusOr<registry::v1::DeleteResponse> Delete(
      const registry::v1::DeleteRequest& request) = 0;
};

// A RegistryClient over gRPC to `address` (HOST:PORT); every call fails after `deadline`.
std::unique_ptr<RegistryClient> MakeGrpcRegistryClient(const std::string& address,
                                                       std::chrono::milliseconds deadline);

}  // namespace switchboard::sbctl
