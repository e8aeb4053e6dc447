#pragma once

#include <absl/status/statusor.h>
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

namespace switchboard::grpcutil {

// Builds and starts a gRPC server on `address` with the given services and the standard
// grpc.health.v1 service (reporting SERVING). Fails when the address cannot be bound.
absl::StatusOr<std::unique_ptr<grpc::Server>> StartServer(
    const std::string& address, const std::vector<grpc::Service*>& services);

// Marks the server NOT_SERVING in health checks, then shuts it down, giving in-flight calls up
// to `grace_ms` to finish.
void StopServer(grpc::Server* server, int grace_ms);

// A channel to another Switchboard service: plaintext, keepalive on, reconnecting quickly.
std::shared_ptr<grpc::Channel> MakeChannel(const std::string& address);

// Converts a gRPC status into an absl::Status (the codes are the same).
absl::Status ToAbsl(const grpc::Status& status);
// Converts an absl::Status into a gRPC status.
grpc::Status ToGrpc(const absl::Status& status);

// Calls the unary RPC `method` of `stub` (a generated Stub's member) with `request`, waiting at
// most `deadline`: the response, or the call's status as an absl::Status. `authorization`, when
// set, goes as that request metadata (an admin credential: "Bearer <secret>").
template <typename Response, typename Stub, typename Method, typename Request>
absl::StatusOr<Response> CallUnary(Stub& stub, Method method, const Request& request,
                                   std::chrono::milliseconds deadline,
                                   const std::string& authorization = {}) {
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  if (!authorization.empty()) context.AddMetadata("authorization", authorization);
  Response response;
  grpc::Status status = (stub.*method)(&context, request, &response);
  if (!status.ok()) return ToAbsl(status);
  return response;
}

}  // namespace switchboard::grpcutil
