#include "services/runner/src/runner_grpc.h"

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "services/runner/src/attach_frames.h"
#include "services/runner/src/runner_telemetry.h"
#include "switchboard/common/log.h"
#include "switchboard/grpcutil/server.h"
#include "switchboard/grpcutil/write_queue.h"

namespace switchboard::runner {
namespace {

using runner::v1::AttachRequest;
using runner::v1::AttachResponse;

class AttachReactor;

// The service's view of one stream: frames go through a bounded WriteQueue, and the stream is
// finished once the queue has drained after being closed. Outlives the reactor when the service
// still holds it; by then the queue is closed and nothing reaches the reactor.
class StreamSink final : public AttachmentSink {
 public:
  explicit StreamSink(grpc::ServerBidiReactor<AttachRequest, AttachResponse>* reactor)
      : queue_([reactor](const AttachResponse* r) { reactor->StartWrite(r); },
               [this, reactor] { reactor->Finish(FinalStatus()); }) {}

  void OnOpened(std::string_view initialize_result, int64_t pid) override {
    telemetry_.SetPid(pid);
    queue_.Push(OpenedFrame(initialize_result, pid));
  }

  void OnMessage(std::string message) override {
    telemetry_.OnResponse(message);
    queue_.Push(MessageFrame(std::move(message)));
  }

  void OnRoutedMessage(std::string message, std::string_view user,
                       std::string_view session) override {
    queue_.Push(RoutedFrame(std::move(message), user, session));
  }

  void OnClosed(absl::Status status) override { End(grpcutil::ToGrpc(status)); }

  // Ends the stream with `status` once the write in flight (if any) is done. The first status
  // given wins.
  void End(grpc::Status status) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!status_) status_ = std::move(status);
    }
    queue_.Close();
  }

  void OnWriteDone(bool ok) { queue_.OnWriteDone(ok); }

  AttachTelemetry& telemetry() { return telemetry_; }

 private:
  grpc::Status FinalStatus() {
    std::lock_guard<std::mutex> lock(mu_);
    if (status_) return *status_;
    // Closed by the queue itself: it overflowed, or a write failed because the caller left.
    return grpc::Status(grpc::StatusCode::RESOURCE_EXHAUSTED,
                        "the caller did not read its Attach stream fast enough");
  }

  std::mutex mu_;
  std::optional<grpc::Status> status_;
  grpcutil::WriteQueue<AttachResponse> queue_;
  AttachTelemetry telemetry_;
};

class AttachReactor final : public grpc::ServerBidiReactor<AttachRequest, AttachResponse> {
 public:
  explicit AttachReactor(RunnerService* service)
      : sink_(std::make_shared<StreamSink>(this)), requests_(service, &sink_->telemetry()) {
    StartRead(&request_);
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      // The caller half-closed or went away.
      sink_->End(grpc::Status::OK);
      return;
    }
    if (absl::Status s = requests_.Handle(request_, sink_); !s.ok()) {
      sink_->End(grpcutil::ToGrpc(s));
      return;
    }
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override { sink_->OnWriteDone(ok); }

  void OnCancel() override { sink_->End(grpc::Status::CANCELLED); }

  void OnDone() override {
    requests_.Detach();
    delete this;
  }

 private:
  std::shared_ptr<StreamSink> sink_;
  AttachRequests requests_;
  AttachRequest request_;
};

}  // namespace

grpc::ServerBidiReactor<AttachRequest, AttachResponse>* RunnerGrpc::Attach(
    grpc::CallbackServerContext* /*context*/) {
  return new AttachReactor(service_);
}

}  // namespace switchboard::runner

namespace switchboard::runner {

grpc::ServerUnaryReactor* RunnerGrpc::Refuse(grpc::CallbackServerContext* context) {
  if (!admin_check_) return nullptr;
  grpc::Status status = admin_check_(context);
  if (status.ok()) return nullptr;
  auto* reactor = context->DefaultReactor();
  reactor->Finish(status);
  return reactor;
}

grpc::ServerUnaryReactor* RunnerGrpc::ListProcesses(grpc::CallbackServerContext* context,
                                                    const v1::ListProcessesRequest* /*request*/,
                                                    v1::ListProcessesResponse* response) {
  if (auto* refused = Refuse(context)) return refused;
  for (const ProcessStatus& s : service_->ListProcesses()) {
    v1::ProcessInfo* p = response->add_processes();
    p->set_server(s.server);
    p->set_pid(s.pid);
    p->set_state(s.state);
    p->set_uptime_ms(s.uptime_ms);
    p->set_attachments(s.attachments);
    p->set_in_flight(s.in_flight);
    p->set_restarts(s.restarts);
    p->set_rss_bytes(s.rss_bytes);
    p->set_last_failure(s.last_failure);
    p->set_isolation(s.isolation);
    p->set_key(s.key);
    for (const std::string& session : s.sessions) p->add_sessions(session);
    p->set_queue_depth(s.queue_depth);
  }
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpc::Status::OK);
  return reactor;
}

grpc::ServerUnaryReactor* RunnerGrpc::RestartServer(grpc::CallbackServerContext* context,
                                                    const v1::RestartServerRequest* request,
                                                    v1::RestartServerResponse* /*response*/) {
  if (auto* refused = Refuse(context)) return refused;
  auto* reactor = context->DefaultReactor();
  reactor->Finish(grpcutil::ToGrpc(service_->RestartServer(request->server())));
  return reactor;
}

grpc::ServerUnaryReactor* RunnerGrpc::DrainServer(grpc::CallbackServerContext* context,
                                                  const v1::DrainServerRequest* request,
                                                  v1::DrainServerResponse* response) {
  if (auto* refused = Refuse(context)) return refused;
  auto* reactor = context->DefaultReactor();
  absl::StatusOr<int64_t> drained = service_->DrainServer(request->server());
  if (drained.ok()) response->set_processes(*drained);
  reactor->Finish(grpcutil::ToGrpc(drained.status()));
  return reactor;
}

grpc::ServerUnaryReactor* RunnerGrpc::ServerLogs(grpc::CallbackServerContext* context,
                                                 const v1::ServerLogsRequest* request,
                                                 v1::ServerLogsResponse* response) {
  if (auto* refused = Refuse(context)) return refused;
  constexpr int kDefaultLines = 100;
  constexpr int kMaxLines = 10000;
  int lines = request->max_lines() <= 0 ? kDefaultLines : std::min(request->max_lines(), kMaxLines);
  absl::StatusOr<std::vector<std::string>> logs =
      service_->ServerLogs(request->server(), static_cast<size_t>(lines));
  auto* reactor = context->DefaultReactor();
  if (logs.ok()) {
    for (std::string& line : *logs) response->add_lines(std::move(line));
  }
  reactor->Finish(grpcutil::ToGrpc(logs.status()));
  return reactor;
}

}  // namespace switchboard::runner
