#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "services/edge/src/call_registry.h"
#include "services/edge/src/router_client.h"
#include "switchboard/router/v1/router.pb.h"

namespace switchboard::edge {

// A RouterClient that multiplexes every call on long-lived streams to the router, each call
// under a unique call_id; the transport (a gRPC Exchange stream, a wire connection) is the
// subclass's. Frames are handed to the coroutine waiting for them on its own executor. When a
// stream breaks, every call on it ends with UnavailableError and the next call opens a new
// stream.
class StreamRouterClient : public RouterClient {
 public:
  std::unique_ptr<RouterCall> Call(RouterMessage message) override;
  void Send(RouterMessage message) override;
  void SetSessionMessageHandler(SessionMessageHandler handler) override;

 protected:
  // One stream to the router, carrying many calls.
  class Stream {
   public:
    explicit Stream(uint64_t generation) : generation_(generation) {}
    virtual ~Stream() = default;
    // Queues a request; false when the stream can no longer write.
    virtual bool Write(const router::v1::RouterRequest& request) = 0;
    uint64_t generation() const { return generation_; }

   private:
    const uint64_t generation_;
  };

  // `max_frames_per_call` bounds the frames queued for one call whose client reads slowly.
  explicit StreamRouterClient(size_t max_frames_per_call);

  // The stream to write on now: the open one, or a new one when there is none or it broke;
  // nullptr after shutdown.
  virtual std::shared_ptr<Stream> CurrentStream() = 0;

  // For the transport: a response read from `stream`.
  void OnResponse(router::v1::RouterResponse& response, Stream& stream);
  // For the transport: no response can arrive on `stream` any more; its calls end now.
  void OnBroken(const Stream& stream);
  // A generation for a new stream, unique in this client.
  uint64_t NextGeneration() { return next_generation_.fetch_add(1); }

 private:
  class CallImpl;

  // Writes on the current stream, retrying once on a fresh one if that stream just broke.
  // Registers `frames` under `call_id` first when given. Returns the stream used, or nullptr.
  std::shared_ptr<Stream> WriteWithRetry(const router::v1::RouterRequest& request,
                                         const std::shared_ptr<FrameQueue>& frames);

  const size_t max_frames_per_call_;
  CallRegistry registry_;
  SessionMessageHandler session_handler_;  // set before traffic, then only read
  std::atomic<uint64_t> next_call_id_{1};
  std::atomic<uint64_t> next_generation_{1};
};

}  // namespace switchboard::edge
