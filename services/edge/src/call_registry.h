#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <unordered_map>

#include "services/edge/src/async_queue.h"
#include "services/edge/src/router_client.h"

namespace switchboard::edge {

// Where the frames of one call wait for the coroutine that handles it.
using FrameQueue = AsyncQueue<absl::StatusOr<RouterFrame>>;

// RouterCall::Next over a call's queue: its next frame, or UnavailableError once the queue was
// closed without one (the router stream broke). Sets `finished` once nothing more can come. A
// cancelled wait throws, and the frame, if any, stays queued.
boost::asio::awaitable<absl::StatusOr<RouterFrame>> NextFrame(FrameQueue& frames, bool& finished);

// The calls in flight on the router streams, by call_id: routes each frame to its call's
// queue, ends a call at its final frame, and fails every call of a stream that broke.
// Thread-safe; holds no gRPC types, so it is tested alone.
class CallRegistry {
 public:
  enum class DeliverResult {
    kDelivered,
    kUnknown,   // no such call (already ended, cancelled or never registered): dropped
    kOverflow,  // the call's queue was full: the call is ended with an error, cancel it upstream
  };

  // Registers call `call_id`, carried by stream `generation`.
  void Add(uint64_t call_id, uint64_t generation, std::shared_ptr<FrameQueue> frames);
  // Hands a frame to its call; a final frame ends the call.
  DeliverResult Deliver(uint64_t call_id, RouterFrame frame);
  // Forgets a call whose client gave up; true when it was still registered.
  bool Remove(uint64_t call_id);
  // Ends every call of stream `generation` with `status`; returns how many there were.
  size_t FailGeneration(uint64_t generation, const absl::Status& status);
  // The number of calls in flight.
  size_t size() const;

 private:
  struct Entry {
    uint64_t generation = 0;
    std::shared_ptr<FrameQueue> frames;
  };

  mutable std::mutex mu_;
  std::unordered_map<uint64_t, Entry> calls_;
};

}  // namespace switchboard::edge
