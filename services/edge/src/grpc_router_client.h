#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "services/edge/src/call_registry.h"
#include "services/edge/src/router_client.h"
#include "switchboard/router/v1/router.grpc.pb.h"

namespace switchboard::edge {

// RouterClient over gRPC: one long-lived bidirectional Exchange stream per process carries
// every call, each under a unique call_id. Frames are handed to the coroutine waiting for them
// on its own executor. When the stream breaks, every call on it ends with UnavailableError and
// the next call opens a new stream. Destroying the client cancels the stream and waits for it
// to finish; it must outlive every RouterCall it returned.
class GrpcRouterClient : public RouterClient {
 public:
  // `max_frames_per_call` bounds the frames queued for one call whose client reads slowly.
  explicit GrpcRouterClient(std::shared_ptr<grpc::Channel> channel,
                            size_t max_frames_per_call = 1024);
  ~GrpcRouterClient() override;

  std::unique_ptr<RouterCall> Call(RouterMessage message) override;
  void Send(RouterMessage message) override;
  void SetSessionMessageHandler(SessionMessageHandler handler) override;

  // False while the channel to the router is failing to connect (or shut down); asks it to
  // connect when idle. Cheap: for choosing among replicas on every call.
  bool Available();

 private:
  class Stream;
  class CallImpl;

  // The open stream, or a new one when there is none or it broke; nullptr after shutdown.
  std::shared_ptr<Stream> CurrentStream();
  // Writes on the current stream, retrying once on a fresh one if that stream just broke.
  // Registers `frames` under `call_id` first when given. Returns the stream used, or nullptr.
  std::shared_ptr<Stream> WriteWithRetry(const router::v1::RouterRequest& request,
                                         const std::shared_ptr<FrameQueue>& frames);
  void OnResponse(router::v1::RouterResponse& response, Stream& stream);
  void OnStreamDone();

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<router::v1::Router::Stub> stub_;
  const size_t max_frames_per_call_;
  CallRegistry registry_;
  SessionMessageHandler session_handler_;  // set before traffic, then only read
  std::atomic<uint64_t> next_call_id_{1};

  std::mutex mu_;
  std::condition_variable done_cv_;
  std::shared_ptr<Stream> stream_;  // guarded by mu_
  uint64_t generation_ = 0;         // guarded by mu_
  int live_streams_ = 0;            // guarded by mu_
  bool shutting_down_ = false;      // guarded by mu_
};

}  // namespace switchboard::edge
