#include "services/router/src/runner_upstream.h"

#include <boost/asio/post.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>

#include "services/router/src/router_telemetry.h"
#include "switchboard/grpcutil/write_queue.h"
#include "switchboard/wire/connection.h"
#include "switchboard/wire/protocols.h"

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

// The frame for one message to a server: plain, or Routed when it is sent for a user or a
// session, with the trace context of the upstream call's span (made current by the router
// around Send).
AttachRequest RequestFor(std::string message, const std::string& user = {},
                         const std::string& session = {}) {
  AttachRequest r;
  if (user.empty() && session.empty()) {
    r.set_message(std::move(message));
  } else {
    runner::v1::Routed* routed = r.mutable_routed();
    routed->set_message(std::move(message));
    routed->set_user(user);
    routed->set_session(session);
  }
  if (telemetry::TraceHeaders trace = CurrentTraceHeaders(); !trace.empty()) {
    r.set_traceparent(std::move(trace.traceparent));
    r.set_tracestate(std::move(trace.tracestate));
    r.set_baggage(std::move(trace.baggage));
  }
  return r;
}

// Hands a message from the runner to the router: a per-user or per-session process's
// notification (Routed, naming its user or session) only to that user's or session's clients.
void Deliver(AttachResponse& response, const UpstreamEvents& events) {
  if (response.has_routed() && events.on_scoped_message &&
      (!response.routed().user().empty() || !response.routed().session().empty())) {
    runner::v1::Routed* routed = response.mutable_routed();
    events.on_scoped_message(std::move(*routed->mutable_message()),
                             std::move(*routed->mutable_user()),
                             std::move(*routed->mutable_session()));
  } else if (response.has_message() || response.has_routed()) {
    events.on_message(response.has_message()
                          ? std::move(*response.mutable_message())
                          : std::move(*response.mutable_routed()->mutable_message()));
  }
}

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

  // Messages written before the runner says Opened wait at the runner, which holds them until
  // the server is ready.
  void Send(AttachRequest r) { queue_.Push(std::move(r)); }

  void Cancel() {
    closed_by_router_ = true;
    context_.TryCancel();
  }

  void OnReadDone(bool ok) override {
    if (!ok) {
      queue_.Close();
      return;
    }
    if (response_.has_message() || response_.has_routed()) {
      asio::post(executor_, [events = events_, response = std::move(response_)]() mutable {
        Deliver(response, events);
      });
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
  std::atomic<bool> closed_by_router_{false};
};

void RunnerLink::Send(std::string message) { SendFor(std::move(message), {}, {}); }

void RunnerLink::SendFor(std::string message, const std::string& user, const std::string& session) {
  AttachRequest r = RequestFor(std::move(message), user, session);
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

// Over wire ---------------------------------------------------------------------------------

namespace switchboard::router {

namespace {
class WireAttach;
}  // namespace

struct WireRunnerUpstreamFactory::Shared {
  std::mutex mu;
  std::condition_variable cv;
  std::set<std::shared_ptr<WireAttach>> live;
};

namespace {

// One attachment over one wire connection, made at once: its first frame is Open, and the
// messages sent before the runner has the server ready wait there (as the runner holds
// whatever comes before Opened). Everything runs on the router's executor.
class WireAttach final : public Upstream, public std::enable_shared_from_this<WireAttach> {
 public:
  WireAttach(UpstreamEvents events, std::shared_ptr<WireRunnerUpstreamFactory::Shared> shared)
      : events_(std::move(events)), shared_(std::move(shared)) {}

  void Open(asio::any_io_executor executor, const std::string& address,
            const std::string& server) {
    {
      std::lock_guard<std::mutex> lock(shared_->mu);
      shared_->live.insert(shared_from_this());
    }
    connection_ = wire::Connection::Connect(std::move(executor), address, wire::kRunnerAttach, 5000);
    connection_->Start(
        [self = shared_from_this()](std::string_view frame) { self->OnFrame(frame); },
        [self = shared_from_this()](absl::Status status) {
          self->Report(status.ok() ? "runner closed the stream" : std::string(status.message()));
          self->Ended();
        });
    AttachRequest open;
    open.mutable_open()->set_server(server);
    connection_->Send(open);
  }

  void Send(std::string message) override { connection_->Send(RequestFor(std::move(message))); }

  void SendFor(std::string message, const std::string& user, const std::string& session) override {
    connection_->Send(RequestFor(std::move(message), user, session));
  }

  void Close() override {
    closed_by_router_ = true;
    connection_->Close();
  }

 private:
  void OnFrame(std::string_view frame) {
    AttachResponse response;
    if (!response.ParseFromArray(frame.data(), static_cast<int>(frame.size()))) {
      Report("the runner sent a frame that is not an AttachResponse");
      connection_->Close();
      return;
    }
    if (response.has_closed()) {
      Report(response.closed().message().empty() ? "runner closed the stream"
                                                 : response.closed().message());
      connection_->Close();
      return;
    }
    Deliver(response, events_);
  }

  // Tells the router once why the connection is gone, unless the router closed it.
  void Report(std::string reason) {
    if (closed_by_router_ || reported_) return;
    reported_ = true;
    events_.on_closed(std::move(reason));
  }

  void Ended() {
    std::shared_ptr<WireRunnerUpstreamFactory::Shared> shared = shared_;
    {
      std::lock_guard<std::mutex> lock(shared->mu);
      shared->live.erase(shared_from_this());
    }
    shared->cv.notify_all();
  }

  UpstreamEvents events_;
  std::shared_ptr<WireRunnerUpstreamFactory::Shared> shared_;
  std::shared_ptr<wire::Connection> connection_;
  bool closed_by_router_ = false;
  bool reported_ = false;
};

}  // namespace

WireRunnerUpstreamFactory::WireRunnerUpstreamFactory(std::string address,
                                                     asio::any_io_executor executor)
    : address_(std::move(address)),
      executor_(std::move(executor)),
      shared_(std::make_shared<Shared>()) {}

WireRunnerUpstreamFactory::~WireRunnerUpstreamFactory() = default;

std::shared_ptr<Upstream> WireRunnerUpstreamFactory::Connect(const registry::v1::Server& server,
                                                             UpstreamEvents events) {
  auto attach = std::make_shared<WireAttach>(std::move(events), shared_);
  attach->Open(executor_, address_, server.name());
  return attach;
}

void WireRunnerUpstreamFactory::CloseAll(int timeout_ms) {
  std::unique_lock<std::mutex> lock(shared_->mu);
  for (const std::shared_ptr<WireAttach>& a : shared_->live) {
    asio::post(executor_, [a] { a->Close(); });
  }
  shared_->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                       [&] { return shared_->live.empty(); });
}

}  // namespace switchboard::router
