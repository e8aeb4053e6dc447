#pragma once

#include <grpcpp/grpcpp.h>

#include "services/runner/src/runner_service.h"
#include "switchboard/runner/v1/runner.grpc.pb.h"

namespace switchboard::runner {

// Serves runner.v1.Runner over a RunnerService: each Attach stream is one attachment. The
// first frame must be Open (server, and the default user and session); the stream then carries
// raw JSON-RPC messages both ways (Routed frames name their own user and session) and ends
// with the status the service gives (NOT_FOUND, FAILED_PRECONDITION, UNAVAILABLE), with OK when
// the caller half-closes, or with RESOURCE_EXHAUSTED when the caller reads too slowly.
class RunnerGrpc final : public runner::v1::Runner::CallbackService {
 public:
  // `service` must outlive every stream (stop the gRPC server first).
  explicit RunnerGrpc(RunnerService* service) : service_(service) {}

  grpc::ServerBidiReactor<runner::v1::AttachRequest, runner::v1::AttachResponse>* Attach(
      grpc::CallbackServerContext* context) override;
  grpc::ServerUnaryReactor* ListProcesses(grpc::CallbackServerContext* context,
                                          const runner::v1::ListProcessesRequest* request,
                                          runner::v1::ListProcessesResponse* response) override;
  grpc::ServerUnaryReactor* RestartServer(grpc::CallbackServerContext* context,
                                          const runner::v1::RestartServerRequest* request,
                                          runner::v1::RestartServerResponse* response) override;
  grpc::ServerUnaryReactor* DrainServer(grpc::CallbackServerContext* context,
                                        const runner::v1::DrainServerRequest* request,
                                        runner::v1::DrainServerResponse* response) override;
  grpc::ServerUnaryReactor* ServerLogs(grpc::CallbackServerContext* context,
                                       const runner::v1::ServerLogsRequest* request,
                                       runner::v1::ServerLogsResponse* response) override;

 private:
  RunnerService* service_;
};

}  // namespace switchboard::runner
