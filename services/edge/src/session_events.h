#pragma once

#include <absl/status/statusor.h>

#include <boost/asio/awaitable.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "services/edge/src/async_queue.h"
#include "switchboard/redis/client.h"
#include "switchboard/redis/subscriber.h"

namespace switchboard::edge {

// One message kept for a session, under its Redis stream entry id ("<ms>-<seq>": unique per
// session and ordered).
struct StoredEvent {
  std::string id;
  std::string message;
};

// What wakes a session's event stream: new entries to read, or the end of the stream (the
// session ended, another stream replaced it, or the edge is stopping).
enum class StreamSignal { kWake, kClose };
using SignalQueue = AsyncQueue<StreamSignal>;

// The local end of one session's event stream. Dropping it does not unsubscribe: pass it to
// SessionEvents::Unlisten.
struct SessionListener {
  std::string session_id;
  std::string token;
  std::shared_ptr<SignalQueue> signals;
};

// Messages for sessions, shared by every edge replica through Redis. Each session's messages
// are appended to the Redis Stream `sb:events:{id}` (trimmed to about `max_len` entries, expiring
// with the session) and announced on the pub/sub channel `sb:sess:{id}`. The edge holding the
// session's event stream subscribes to that channel on its one pub/sub connection (shared by all
// sessions it serves) and reads the new entries with XRANGE on the pipelined client: a wake-up
// carries no data, so a lost or coalesced one costs nothing, and replay after Last-Event-ID uses
// the same read. Channel payloads: "event" (new entries), "close" (the session ended),
// "open:<token>" (another stream for the session opened: any other one closes).
class SessionEvents {
 public:
  SessionEvents(std::shared_ptr<redis::RedisClient> redis, redis::RedisEndpoint endpoint,
                boost::asio::any_io_executor executor, std::chrono::seconds ttl,
                size_t max_len = 1000);
  ~SessionEvents();
  SessionEvents(const SessionEvents&) = delete;
  SessionEvents& operator=(const SessionEvents&) = delete;

  static std::string StreamKey(std::string_view session_id);
  static std::string Channel(std::string_view session_id);

  // Appends a message to the session's stream and wakes its reader; returns the entry id.
  boost::asio::awaitable<absl::StatusOr<std::string>> Append(std::string session_id,
                                                             std::string message);
  // Append without waiting (from any thread, e.g. a gRPC reaction); failures are logged.
  void Publish(std::string session_id, std::string message);
  // Up to `count` entries after entry `after_id` ("0-0": from the start), oldest first.
  boost::asio::awaitable<absl::StatusOr<std::vector<StoredEvent>>> ReadAfter(std::string session_id,
                                                                             std::string after_id,
                                                                             size_t count = 100);
  // The id of the session's newest entry, "0-0" when it has none.
  boost::asio::awaitable<absl::StatusOr<std::string>> LastId(std::string session_id);
  // Deletes the session's stream and closes its event stream on whichever replica holds it.
  boost::asio::awaitable<absl::Status> End(std::string session_id);

  // Starts listening for the session's messages on this replica, replacing (closing) any other
  // listener of the session here or on another replica. Completes once subscribed, so every
  // entry appended afterwards wakes the listener.
  boost::asio::awaitable<absl::StatusOr<SessionListener>> Listen(std::string session_id);
  // Stops listening; a no-op when the listener was already replaced.
  void Unlisten(const SessionListener& listener);
  // Closes every listener and the pub/sub connection (the edge is stopping), and stops the
  // heartbeat, dropping this replica's liveness key.
  void Close();

  // This replica's id (random, per process).
  const std::string& replica_id() const { return replica_id_; }
  // Keeps the key `sb:edge:{replica id}` alive (expiring after three periods) until Close, so
  // that other replicas can tell this one still serves the requests it took.
  void StartHeartbeat(std::chrono::milliseconds period);
  // Whether replica `id` has renewed its liveness key lately.
  boost::asio::awaitable<absl::StatusOr<bool>> ReplicaAlive(std::string id);
  static std::string ReplicaKey(std::string_view id);
  // The number of sessions listened to on this replica.
  size_t listeners() const;

 private:
  void OnMessage(const std::string& channel, std::string payload);
  void WakeAll();

  std::shared_ptr<redis::RedisClient> redis_;
  std::shared_ptr<redis::RedisSubscriber> subscriber_;
  boost::asio::any_io_executor executor_;
  const std::string replica_id_;  // prefixes the tokens of this replica's listeners
  std::string ttl_seconds_;
  std::string max_len_;

  struct Heartbeat;
  std::shared_ptr<Heartbeat> heartbeat_;

  mutable std::mutex mu_;
  std::unordered_map<std::string, SessionListener> listeners_;  // by session id
  bool closed_ = false;
};

}  // namespace switchboard::edge
