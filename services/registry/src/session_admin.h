#pragma once

#include <absl/status/statusor.h>

#include <boost/asio/any_io_executor.hpp>
#include <functional>
#include <memory>
#include <string>

#include "switchboard/redis/client.h"
#include "switchboard/registry/v1/registry.pb.h"

namespace switchboard::registry {

// Lists and ends users' MCP sessions in the Redis the edges share. The layout is the edge's
// (services/edge: RedisSessionStore and SessionEvents): a hash sb:session:{id} with endpoint,
// user_email, protocol_version, created_unix and transport; the event stream sb:events:{id};
// the channel sb:sess:{id}, on which "close" ends the session's open event streams.
// Sessions are found by a bounded SCAN: an admin operation, never on the request path.
class SessionAdmin {
 public:
  template <typename T>
  using Done = std::function<void(absl::StatusOr<T>)>;

  // The work runs on `executor` (the one `redis` completes on).
  SessionAdmin(std::shared_ptr<redis::RedisClient> redis, boost::asio::any_io_executor executor)
      : redis_(std::move(redis)), executor_(std::move(executor)) {}

  // The user's live sessions, oldest first. `done` runs once, on the executor.
  void List(v1::ListSessionsRequest request, Done<v1::ListSessionsResponse> done);
  // Ends the user's sessions (or the one named): their records, event streams and open streams.
  void End(v1::EndSessionsRequest request, Done<v1::EndSessionsResponse> done);

 private:
  std::shared_ptr<redis::RedisClient> redis_;
  boost::asio::any_io_executor executor_;
};

}  // namespace switchboard::registry
