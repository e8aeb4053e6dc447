#include "services/edge/src/redis_session_store.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

#include "switchboard/common/strings.h"

namespace switchboard::edge {
namespace {

namespace asio = boost::asio;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

absl::Status Unavailable(const boost::system::error_code& ec) {
  return absl::UnavailableError(StrCat("session store: ", ec.message()));
}

absl::Status ErrorReply(const redis::Reply& reply) {
  return absl::InternalError(StrCat("session store: redis replied ", reply.str));
}

}  // namespace

RedisSessionStore::RedisSessionStore(std::shared_ptr<redis::RedisClient> redis,
                                     std::chrono::seconds ttl)
    : redis_(std::move(redis)), ttl_seconds_(std::to_string(ttl.count())) {}

std::string RedisSessionStore::Key(std::string_view id) { return StrCat("sb:session:", id); }

asio::awaitable<absl::Status> RedisSessionStore::Create(SessionRecord record) {
  std::string key = Key(record.id);
  // Commands are built before co_await: GCC 12 cannot keep an initializer_list's array alive
  // across a suspension point.
  std::vector<std::vector<std::string>> commands = {
      {"MULTI"},
      {"HSET", key, "endpoint", record.endpoint, "user_email", record.user_email, "api_key_id",
       record.api_key_id, "protocol_version", record.protocol_version, "created_unix",
       std::to_string(record.created_unix), "transport", record.transport},
      {"EXPIRE", key, ttl_seconds_},
      {"EXEC"}};
  auto [ec, replies] = co_await redis_->AsyncPipeline(std::move(commands), kTuple);
  if (ec) co_return Unavailable(ec);
  for (const redis::Reply& reply : replies) {
    if (reply.IsError()) co_return ErrorReply(reply);
  }
  if (!replies.back().IsArray()) co_return absl::InternalError("session store: MULTI aborted");
  co_return absl::OkStatus();
}

asio::awaitable<absl::StatusOr<std::optional<SessionRecord>>> RedisSessionStore::Touch(
    std::string id) {
  std::string key = Key(id);
  std::vector<std::vector<std::string>> commands = {{"HGETALL", key},
                                                    {"EXPIRE", key, ttl_seconds_}};
  auto [ec, replies] = co_await redis_->AsyncPipeline(std::move(commands), kTuple);
  if (ec) co_return Unavailable(ec);
  const redis::Reply& hash = replies[0];
  if (hash.IsError()) co_return ErrorReply(hash);
  if (!hash.IsArray() || hash.elements.empty()) co_return std::optional<SessionRecord>();
  SessionRecord record;
  record.id = std::move(id);
  for (size_t i = 0; i + 1 < hash.elements.size(); i += 2) {
    const std::string& field = hash.elements[i].str;
    const std::string& value = hash.elements[i + 1].str;
    if (field == "endpoint") {
      record.endpoint = value;
    } else if (field == "user_email") {
      record.user_email = value;
    } else if (field == "api_key_id") {
      record.api_key_id = value;
    } else if (field == "protocol_version") {
      record.protocol_version = value;
    } else if (field == "transport") {
      record.transport = value;
    } else if (field == "created_unix") {
      std::from_chars(value.data(), value.data() + value.size(), record.created_unix);
    }
  }
  co_return std::optional<SessionRecord>(std::move(record));
}

asio::awaitable<absl::StatusOr<bool>> RedisSessionStore::Delete(std::string id) {
  std::vector<std::string> command = {"DEL", Key(id)};
  auto [ec, reply] = co_await redis_->AsyncCommand(std::move(command), kTuple);
  if (ec) co_return Unavailable(ec);
  if (reply.IsError()) co_return ErrorReply(reply);
  co_return reply.integer > 0;
}

asio::awaitable<absl::Status> RedisSessionStore::Ping() {
  std::vector<std::string> command = {"PING"};
  auto [ec, reply] = co_await redis_->AsyncCommand(std::move(command), kTuple);
  if (ec) co_return Unavailable(ec);
  if (reply.IsError()) co_return ErrorReply(reply);
  co_return absl::OkStatus();
}

}  // namespace switchboard::edge
