#include "services/registry/src/session_admin.h"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>
#include <exception>

#include "switchboard/common/log.h"
#include "switchboard/common/strings.h"

namespace switchboard::registry {
namespace {

namespace asio = boost::asio;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kSessionPrefix = "sb:session:";
// SCAN rounds at most (each asks for 1000 keys): a bound on a pathological keyspace.
constexpr int kMaxScanRounds = 10000;

absl::Status Unavailable(const boost::system::error_code& ec) {
  return absl::UnavailableError(StrCat("sessions: redis: ", ec.message()));
}

// The sessions of `user` (all of them, or only `only_id`), read with SCAN + HMGET.
asio::awaitable<absl::StatusOr<std::vector<v1::Session>>> Find(
    std::shared_ptr<redis::RedisClient> redis, std::string user, std::string only_id) {
  std::vector<v1::Session> found;
  std::string cursor = "0";
  for (int round = 0; round < kMaxScanRounds; ++round) {
    std::vector<std::string> keys;
    if (!only_id.empty()) {
      keys.push_back(StrCat(kSessionPrefix, only_id));
      cursor = "0";
    } else {
      std::vector<std::string> scan = {"SCAN", cursor, "MATCH", StrCat(kSessionPrefix, "*"),
                                       "COUNT", "1000"};
      auto [ec, reply] = co_await redis->AsyncCommand(std::move(scan), kTuple);
      if (ec) co_return Unavailable(ec);
      if (!reply.IsArray() || reply.elements.size() != 2 || !reply.elements[1].IsArray()) {
        co_return absl::InternalError("sessions: unexpected SCAN reply");
      }
      cursor = reply.elements[0].str;
      for (const redis::Reply& key : reply.elements[1].elements) keys.push_back(key.str);
    }
    if (!keys.empty()) {
      std::vector<std::vector<std::string>> commands;
      for (const std::string& key : keys) {
        commands.push_back({"HMGET", key, "user_email", "endpoint", "protocol_version",
                            "created_unix", "transport"});
        commands.push_back({"TTL", key});
      }
      auto [ec, replies] = co_await redis->AsyncPipeline(std::move(commands), kTuple);
      if (ec) co_return Unavailable(ec);
      for (size_t i = 0; i < keys.size(); ++i) {
        const redis::Reply& fields = replies[2 * i];
        if (!fields.IsArray() || fields.elements.size() != 5) continue;
        if (fields.elements[0].IsNil() || fields.elements[0].str != user) continue;
        v1::Session s;
        s.set_id(keys[i].substr(kSessionPrefix.size()));
        s.set_user_email(fields.elements[0].str);
        s.set_endpoint(fields.elements[1].str);
        s.set_protocol_version(fields.elements[2].str);
        int64_t created = 0;
        const std::string& c = fields.elements[3].str;
        std::from_chars(c.data(), c.data() + c.size(), created);
        s.set_created_unix(created);
        s.set_transport(fields.elements[4].str);
        s.set_expires_in_seconds(std::max<int64_t>(0, replies[2 * i + 1].integer));
        found.push_back(std::move(s));
      }
    }
    if (cursor == "0") break;
  }
  std::sort(found.begin(), found.end(), [](const v1::Session& a, const v1::Session& b) {
    return a.created_unix() != b.created_unix() ? a.created_unix() < b.created_unix()
                                                : a.id() < b.id();
  });
  co_return found;
}

// Runs `work` on the client's executor and hands its result to `done`.
template <typename T, typename Work>
void Spawn(const asio::any_io_executor& executor, Work work,
           std::function<void(absl::StatusOr<T>)> done) {
  asio::co_spawn(executor, std::move(work),
                 [done = std::move(done)](std::exception_ptr e, absl::StatusOr<T> result) {
                   if (e) {
                     done(absl::InternalError("sessions: unexpected failure"));
                     return;
                   }
                   done(std::move(result));
                 });
}

}  // namespace

void SessionAdmin::List(v1::ListSessionsRequest request, Done<v1::ListSessionsResponse> done) {
  if (request.user_email().empty()) {
    done(absl::InvalidArgumentError("user_email: required"));
    return;
  }
  auto work = [](std::shared_ptr<redis::RedisClient> redis,
                 std::string user) -> asio::awaitable<absl::StatusOr<v1::ListSessionsResponse>> {
    auto found = co_await Find(redis, std::move(user), std::string());
    if (!found.ok()) co_return found.status();
    v1::ListSessionsResponse response;
    for (v1::Session& s : *found) *response.add_sessions() = std::move(s);
    co_return response;
  };
  Spawn<v1::ListSessionsResponse>(executor_, work(redis_, request.user_email()), std::move(done));
}

void SessionAdmin::End(v1::EndSessionsRequest request, Done<v1::EndSessionsResponse> done) {
  if (request.user_email().empty()) {
    done(absl::InvalidArgumentError("user_email: required"));
    return;
  }
  auto work = [](std::shared_ptr<redis::RedisClient> redis, std::string user,
                 std::string id) -> asio::awaitable<absl::StatusOr<v1::EndSessionsResponse>> {
    auto found = co_await Find(redis, user, std::move(id));
    if (!found.ok()) co_return found.status();
    v1::EndSessionsResponse response;
    if (found->empty()) co_return response;
    std::vector<std::vector<std::string>> commands;
    for (const v1::Session& s : *found) {
      commands.push_back({"DEL", StrCat(kSessionPrefix, s.id())});
      commands.push_back({"DEL", StrCat("sb:events:", s.id())});
      commands.push_back({"PUBLISH", StrCat("sb:sess:", s.id()), "close"});
    }
    auto [ec, replies] = co_await redis->AsyncPipeline(std::move(commands), kTuple);
    if (ec) co_return Unavailable(ec);
    int ended = 0;
    for (size_t i = 0; i < replies.size(); i += 3) ended += replies[i].integer > 0 ? 1 : 0;
    response.set_ended(ended);
    log::Info("sessions ended", {{"user", user}, {"ended", ended}});
    co_return response;
  };
  Spawn<v1::EndSessionsResponse>(executor_, work(redis_, request.user_email(), request.id()),
                                 std::move(done));
}

}  // namespace switchboard::registry
