#pragma once

#include <grpcpp/grpcpp.h>

#include <boost/asio/any_io_executor.hpp>
#include <memory>

#include "services/router/src/upstream.h"
#include "switchboard/runner/v1/runner.grpc.pb.h"

namespace switchboard::router {

// Connects to STDIO servers through the runner: one long-lived Attach stream per server,
// opened with Open{server}; messages sent before the runner says Opened are held by the
// runner until the server is ready. Events are posted to `executor`.
class RunnerUpstreamFactory final : public UpstreamFactory {
 public:
  RunnerUpstreamFactory(std::shared_ptr<grpc::Channel> channel, boost::asio::any_io_executor executor);
  ~RunnerUpstreamFactory() override;

  std::shared_ptr<Upstream> Connect(const registry::v1::Server& server,
                                    UpstreamEvents events) override;

  // Cancels every stream and waits (up to `timeout_ms`) until they have ended.
  void CloseAll(int timeout_ms);

  // Live streams, so CloseAll can find them (defined in the .cc).
  struct Shared;

 private:
  std::unique_ptr<runner::v1::Runner::Stub> stub_;
  boost::asio::any_io_executor executor_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace switchboard::router

namespace switchboard::router {

// The same over wire connections (wire::kRunnerAttach) to the runner's wire port: one
// connection per server, opened with Open{server}, made, read and written on `executor` (the
// router's own), where every Upstream call must come from too. Messages sent before the
// connection is made wait in its queue, and then at the runner until the server is ready.
class WireRunnerUpstreamFactory final : public UpstreamFactory {
 public:
  WireRunnerUpstreamFactory(std::string address, boost::asio::any_io_executor executor);
  ~WireRunnerUpstreamFactory() override;

  std::shared_ptr<Upstream> Connect(const registry::v1::Server& server,
                                    UpstreamEvents events) override;

  // Closes every connection and waits (up to `timeout_ms`) until they have ended. Call while
  // the executor still runs, from another thread.
  void CloseAll(int timeout_ms);

  struct Shared;

 private:
  std::string address_;
  boost::asio::any_io_executor executor_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace switchboard::router
