#pragma once

#include <grpcpp/grpcpp.h>

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>

#include "services/edge/src/stream_router_client.h"
#include "switchboard/router/v1/router.grpc.pb.h"

namespace switchboard::edge {

// StreamRouterClient over gRPC: one long-lived bidirectional Exchange stream per process
// carries every call. Destroying the client cancels the stream and waits for it to finish; it
// must outlive every RouterCall it returned.
class GrpcRouterClient : public StreamRouterClient {
 public:
  explicit GrpcRouterClient(std::shared_ptr<grpc::Channel> channel,
                            size_t max_frames_per_call = 1024);
  ~GrpcRouterClient() override;

  // False while the channel to the router is failing to connect (or shut down); asks it to
  // connect when idle. Cheap: for choosing among replicas on every call.
  bool Available();

 private:
  class ExchangeStream;

  std::shared_ptr<Stream> CurrentStream() override;
  void OnStreamDone();

  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<router::v1::Router::Stub> stub_;

  std::mutex mu_;
  std::condition_variable done_cv_;
  std::shared_ptr<ExchangeStream> stream_;  // guarded by mu_
  int live_streams_ = 0;                    // guarded by mu_
  bool shutting_down_ = false;              // guarded by mu_
};

}  // namespace switchboard::edge
