#include "services/router/src/router_grpc.h"

#include <mutex>

#include "switchboard/grpcutil/write_queue.h"

namespace switchboard::router {

using v1::RouterRequest;
using v1::RouterResponse;

namespace {

class ExchangeReactor;

// The router's handle on one Exchange stream; outlives the reactor and goes quiet once the
// stream is done.
class ExchangeSink final : public ClientSink {
 public:
  explicit ExchangeSink(ExchangeReactor* reactor) : reactor_(reactor) {}
  void Send(uint64_t call_id, std::string message, bool final) override;
  void SendToSession(const std::string& session_id, std::string message) override;
  void Reset() {
    std::lock_guard<std::mutex> lock(mu_);
    reactor_ = nullptr;
  }

 private:
  std::mutex mu_;
  ExchangeReactor* reactor_;
};

class ExchangeReactor final : public grpc::ServerBidiReactor<RouterRequest, RouterResponse> {
 public:
  explicit ExchangeReactor(RouterService* service)
      : service_(service),
        sink_(std::make_shared<ExchangeSink>(this)),
        queue_([this](const RouterResponse* r) { StartWrite(r); },
               [this] { Finish(grpc::Status::OK); }) {
    StartRead(&request_);
  }

  void Push(RouterResponse response) { queue_.Push(std::move(response)); }

  void OnReadDone(bool ok) override {
    if (!ok) {
      queue_.Close();
      return;
    }
    service_->Handle(sink_, std::move(request_));
    request_.Clear();
    StartRead(&request_);
  }

  void OnWriteDone(bool ok) override { queue_.OnWriteDone(ok); }

  void OnCancel() override { queue_.Close(); }

  void OnDone() override {
    sink_->Reset();
    service_->Detach(sink_.get());
    delete this;
  }

 private:
  RouterService* service_;
  std::shared_ptr<ExchangeSink> sink_;
  grpcutil::WriteQueue<RouterResponse> queue_;
  RouterRequest request_;
};

void ExchangeSink::Send(uint64_t call_id, std::string message, bool final) {
  RouterResponse response;
  response.set_call_id(call_id);
  response.set_message(std::move(message));
  response.set_final(final);
  std::lock_guard<std::mutex> lock(mu_);
  if (reactor_ != nullptr) reactor_->Push(std::move(response));
}

void ExchangeSink::SendToSession(const std::string& session_id, std::string message) {
  RouterResponse response;
  response.set_session_id(session_id);
  response.set_message(std::move(message));
  std::lock_guard<std::mutex> lock(mu_);
  if (reactor_ != nullptr) reactor_->Push(std::move(response));
}

}  // namespace

grpc::ServerBidiReactor<RouterRequest, RouterResponse>* RouterGrpc::Exchange(
    grpc::CallbackServerContext* /*context*/) {
  return new ExchangeReactor(service_);
}

}  // namespace switchboard::router
