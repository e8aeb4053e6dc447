#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "services/edge/src/session_store.h"
#include "switchboard/redis/client.h"

namespace switchboard::edge {

// Sessions in Redis: one hash per session at `sb:session:{id}` (endpoint, user_email,
// api_key_id, protocol_version, created_unix, transport) whose time to live every use renews.
// Nothing is cached locally, so a session minted or ended on any replica is seen at once by all.
class RedisSessionStore : public SessionStore {
 public:
  RedisSessionStore(std::shared_ptr<redis::RedisClient> redis, std::chrono::seconds ttl);

  boost::asio::awaitable<absl::Status> Create(SessionRecord record) override;
  boost::asio::awaitable<absl::StatusOr<std::optional<SessionRecord>>> Touch(
      std::string id) override;
  boost::asio::awaitable<absl::StatusOr<bool>> Delete(std::string id) override;
  boost::asio::awaitable<absl::Status> Ping() override;

  // The Redis key of session `id`.
  static std::string Key(std::string_view id);

 private:
  std::shared_ptr<redis::RedisClient> redis_;
  std::string ttl_seconds_;
};

}  // namespace switchboard::edge
