#include <grpcpp/grpcpp.h>

#include "switchboard/grpcutil/server.h"
#include "switchboard/runner/v1/runner.grpc.pb.h"
#include "tools/sbctl/src/runner_client.h"

namespace switchboard::sbctl {
namespace {

namespace v1 = runner::v1;

class GrpcRunnerClient final : public RunnerClient {
 public:
  GrpcRunnerClient(const std::string& address, std::chrono::milliseconds deadline,
                    const std::string& admin_token)
      : authorization_(admin_token.empty() ? "" : "Bearer " + admin_token),
        stub_(v1::Runner::NewStub(grpcutil::MakeChannel(address))), deadline_(deadline) {}

  absl::StatusOr<v1::ListProcessesResponse> ListProcesses() override {
    return Call<v1::ListProcessesResponse>(&v1::Runner::Stub::ListProcesses,
                                           v1::ListProcessesRequest());
  }
  absl::Status RestartServer(const std::string& server) override {
    v1::RestartServerRequest request;
    request.set_server(server);
    return Call<v1::RestartServerResponse>(&v1::Runner::Stub::RestartServer, request).status();
  }
  absl::StatusOr<int64_t> DrainServer(const std::string& server) override {
    v1::DrainServerRequest request;
    request.set_server(server);
    absl::StatusOr<v1::DrainServerResponse> r =
        Call<v1::DrainServerResponse>(&v1::Runner::Stub::DrainServer, request);
    if (!r.ok()) return r.status();
    return r->processes();
  }
  absl::StatusOr<v1::ServerLogsResponse> ServerLogs(const std::string& server,
                                                    int max_lines) override {
    v1::ServerLogsRequest request;
    request.set_server(server);
    request.set_max_lines(max_lines);
    return Call<v1::ServerLogsResponse>(&v1::Runner::Stub::ServerLogs, request);
  }

 private:
  template <typename Response, typename Request, typename Method>
  absl::StatusOr<Response> Call(Method method, const Request& request) {
    return grpcutil::CallUnary<Response>(*stub_, method, request, deadline_, authorization_);
  }

  std::string authorization_;  // "Bearer <admin token>", or empty
  std::unique_ptr<v1::Runner::Stub> stub_;
  std::chrono::milliseconds deadline_;
};

}  // namespace

std::unique_ptr<RunnerClient> MakeGrpcRunnerClient(const std::string& address,
                                                   std::chrono::milliseconds deadline,
    const std::string& admin_token) {
  return std::make_unique<GrpcRunnerClient>(address, deadline, admin_token);
}

}  // namespace switchboard::sbctl
