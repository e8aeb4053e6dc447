#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>

#include "services/edge/src/auth_client.h"
#include "switchboard/auth/v1/auth.grpc.pb.h"

namespace switchboard::edge {

// AuthClient over gRPC: one asynchronous unary Authorize per request, awaited without blocking
// a thread and bounded by `timeout`.
class GrpcAuthClient : public AuthClient {
 public:
  GrpcAuthClient(std::shared_ptr<grpc::Channel> channel, std::chrono::milliseconds timeout);

  boost::asio::awaitable<absl::StatusOr<AuthResult>> Authorize(AuthQuery query) override;
  boost::asio::awaitable<absl::StatusOr<std::optional<ResourceMetadata>>> GetResourceMetadata(
      std::string endpoint) override;

 private:
  std::unique_ptr<auth::v1::Auth::Stub> stub_;
  std::chrono::milliseconds timeout_;
};

}  // namespace switchboard::edge
