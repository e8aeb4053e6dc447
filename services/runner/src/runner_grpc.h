#pragma once

#include <grpcpp/grpcpp.h>

#include <functional>

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
  // Decides whether an admin call (ListProcesses, RestartServer, DrainServer, ServerLogs) may
  // go on: OK, or the status to refuse it with. Unset: every call may.
  using AdminCheck = std::function<grpc::Status(grpc::CallbackServerContext* context)>;

  // `service` must outlive every stream (stop the gRPC server first).
  explicit RunnerGrpc(RunnerService* service, AdminCheck admin_check = {})
      : service_(service), admin_check_(std::move(admin_check)) {}

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
  // nullptr when the admin call may go on; else a reactor already finished with the refusal.
  grpc::ServerUnaryReactor* Refuse(grpc::CallbackServerContext* context);

  RunnerService* service_;
  AdminCheck admin_check_;
};

}  // namespace switchboard::runner
