#include "services/router/src/runner_upstream.h"

#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <set>

#include "services/router/src/router_telemetry.h"
#include "switchboard/grpcutil/write_queue.h"

namespace switchboard::router {

namespace asio = boost::asio;
using runner::v1::AttachRequest;
using runner::v1::AttachResponse;

class AttachReactor;

// Bookkeeping shared by the factory and its live streams, so CloseAll can find them.
struct RunnerUpstreamFactory::Shared {
  std::mutex mu;
  std::condition_variable cv;
  std::set<AttachReactor*> live;
};

namespace {

// The router's handle on one Attach stream. Owned by the router; the reactor behind it owns
// itself and outlives the handle until gRPC calls OnDone.
class RunnerLink final : public Upstream {
 public:
  explicit RunnerLink(AttachReactor* reactor) : reactor_(reactor) {}
  void Send(std::string message) override;
  void SendFor(std::string message, const std::string& user, const std::string& session) override;
  void Close() override;
  void Detach() {
    std::lock_guard<std::mutex> lock(mu_);
    reactor_ = nullptr;
  }

 private:
  std::mutex mu_;
  AttachReactor* reactor_;
};

}  // namespace

// One Attach stream: writes through a WriteQueue; a hold keeps OnDone from racing a write
// until the queue is closed.
class AttachReactor final : public grpc::ClientBidiReactor<AttachRequest, AttachResponse> {
 public:
  AttachReactor(runner::v1::Runner::Stub* stub, const std::string& server, UpstreamEvents events,
                asio::any_io_executor executor,
                std::shared_ptr<RunnerUpstreamFactory::Shared> shared)
      : events_(std::move(events)),
        executor_(std::move(executor)),
        shared_(std::move(shared)),
        queue_([this](const AttachRequest* r) { StartWrite(r); }, [this] { RemoveHold(); }) {
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->live.insert(this);
    }
    link_ = std::make_shared<RunnerLink>(this);
    stub->async()->Attach(&context_, this);
    AttachRequest open;
    open.mutable_open()->set_server(server);
    queue_.Push(std::move(open));
    StartRead(&response_);
    AddHold();
    StartCall();
  }

  std::shared_ptr<RunnerLink> link() const { return link_; }

  // Sends now if the runner has said Opened, otherwise holds the message until it does.
  void Send(AttachRequest r) {
    // The upstream call's span, made current by the router around this Send.
    if (telemetry::TraceHeaders trace = CurrentTraceHeaders(); !trace.empty()) {
      r.set_traceparent(std::move(trace.traceparent));
      r.set_tracestate(std::move(trace.tracestate));
      r.set_baggage(std::move(trace.baggage));
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!opened_) {
      held_.push_back(std::move(r));
      return;
    }
    queue_.Push(std::move(r));
  }

  void Cancel() {
    closed_by_router_ = true;
    context_.TryCancel();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      queue_.Close();
      return;
    }
    if (response_.has_opened()) {
      std::deque<AttachRequest> held;
      {
        std::lock_guard<std::mutex> lock(mu_);
        opened_ = true;
        held.swap(held_);
      }
      for (AttachRequest& r : held) queue_.Push(std::move(r));
    } else if (response_.has_message() || response_.has_routed()) {
      // A per-user or per-session process's notification (routed) goes only to that user's or
      // that session's clients.
      if (response_.has_routed() && events_.on_scoped_message &&
          (!response_.routed().user().empty() || !response_.routed().session().empty())) {
        runner::v1::Routed* routed = response_.mutable_routed();
        asio::post(executor_, [on = events_.on_scoped_message,
                               m = std::move(*routed->mutable_message()),
                               user = std::move(*routed->mutable_user()),
                               session = std::move(*routed->mutable_session())]() mutable {
          on(std::move(m), std::move(user), std::move(session));
        });
      } else {
        std::string m = response_.has_message()
                            ? std::move(*response_.mutable_message())
                            : std::move(*response_.mutable_routed()->mutable_message());
        asio::post(executor_, [on_message = events_.on_message, m = std::move(m)]() mutable {
          on_message(std::move(m));
        });
      }
    }
    response_.Clear();
    StartRead(&response_);
  }

  void OnWriteDone(bool ok) override { queue_.OnWriteDone(ok); }

  void OnDone(const grpc::Status& status) override {
    link_->Detach();
    if (!closed_by_router_) {
      std::string reason = status.ok() ? "runner closed the stream" : status.error_message();
      asio::post(executor_, [on_closed = events_.on_closed, reason]() { on_closed(reason); });
    }
    auto shared = shared_;
    {
      std::lock_guard<std::mutex> lock(shared->mu);
      shared->live.erase(this);
    }
    shared->cv.notify_all();
    delete this;
  }

 private:
  grpc::ClientContext context_;
  UpstreamEvents events_;
  asio::any_io_executor executor_;
  std::shared_ptr<RunnerUpstreamFactory::Shared> shared_;
  std::shared_ptr<RunnerLink> link_;
  grpcutil::WriteQueue<AttachRequest> queue_;
  AttachResponse response_;
  std::mutex mu_;
  bool opened_ = false;
  std::deque<AttachRequest> held_;
  std::atomic<bool> closed_by_router_{false};
};

void RunnerLink::Send(std::string message) {
  AttachRequest r;
  r.set_message(std::move(message));
  std::lock_guard<std::mutex> lock(mu_);
  if (reactor_ != nullptr) reactor_->Send(std::move(r));
}

void RunnerLink::SendFor(std::string message, const std::string& user, const std::string& session) {
  if (user.empty() && session.empty()) {
    Send(std::move(message));
    return;
  }
  AttachRequest r;
  runner::v1::Routed* routed = r.mutable_routed();
  routed->set_message(std::move(message));
  routed->set_user(user);
  routed->set_session(session);
  std::lock_guard<std::mutex> lock(mu_);
  if (reactor_ != nullptr) reactor_->Send(std::move(r));
}

void RunnerLink::Close() {
  std::lock_guard<std::mutex> lock(mu_);
  if (reactor_ != nullptr) reactor_->Cancel();
}

RunnerUpstreamFactory::RunnerUpstreamFactory(std::shared_ptr<grpc::Channel> channel,
                                             asio::any_io_executor executor)
    : stub_(runner::v1::Runner::NewStub(std::move(channel))),
      executor_(std::move(executor)),
      shared_(std::make_shared<Shared>()) {}

RunnerUpstreamFactory::~RunnerUpstreamFactory() { CloseAll(2000); }

std::shared_ptr<Upstream> RunnerUpstreamFactory::Connect(const registry::v1::Server& server,
                                                         UpstreamEvents events) {
  auto* reactor = new AttachReactor(stub_.get(), server.name(), std::move(events), executor_, shared_);
  return reactor->link();
}

void RunnerUpstreamFactory::CloseAll(int timeout_ms) {
  std::unique_lock<std::mutex> lock(shared_->mu);
  for (AttachReactor* r : shared_->live) r->Cancel();
  shared_->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                       [&] { return shared_->live.empty(); });
}

}  // namespace switchboard::router
