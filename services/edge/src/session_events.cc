#include "services/edge/src/session_events.h"

#include <algorithm>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "switchboard/common/crypto.h"
#include "switchboard/common/log.h"
#include "switchboard/common/strings.h"

// GCC 12 reports a false -Wmismatched-new-delete on some Asio coroutine frames, which are
// allocated and freed by awaitable_frame_base's own operators (fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace switchboard::edge {
namespace {

namespace asio = boost::asio;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kChannelPrefix = "sb:sess:";
constexpr std::string_view kOpenPrefix = "open:";

absl::Status Unavailable(const boost::system::error_code& ec) {
  return absl::UnavailableError(StrCat("event store: ", ec.message()));
}

absl::Status ErrorReply(const redis::Reply& reply) {
  return absl::InternalError(StrCat("event store: redis replied ", reply.str));
}

std::vector<std::vector<std::string>> AppendCommands(const std::string& session_id,
                                                     std::string message,
                                                     const std::string& max_len,
                                                     const std::string& ttl) {
  std::string key = SessionEvents::StreamKey(session_id);
  return {{"XADD", key, "MAXLEN", "~", max_len, "*", "m", std::move(message)},
          {"EXPIRE", key, ttl},
          {"PUBLISH", SessionEvents::Channel(session_id), "event"}};
}

}  // namespace

SessionEvents::SessionEvents(std::shared_ptr<redis::RedisClient> redis,
                             redis::RedisEndpoint endpoint, asio::any_io_executor executor,
                             std::chrono::seconds ttl, size_t max_len)
    : redis_(std::move(redis)),
      executor_(executor),
      replica_id_(crypto::RandomHex(8)),
      ttl_seconds_(std::to_string(ttl.count())),
      max_len_(std::to_string(max_len)) {
  subscriber_ = redis::RedisSubscriber::Create(
      std::move(executor), std::move(endpoint),
      [this](const std::string& channel, std::string payload) {
        OnMessage(channel, std::move(payload));
      },
      [this] { WakeAll(); });
}

SessionEvents::~SessionEvents() { Close(); }

std::string SessionEvents::StreamKey(std::string_view session_id) {
  return StrCat("sb:events:", session_id);
}

std::string SessionEvents::Channel(std::string_view session_id) {
  return StrCat(kChannelPrefix, session_id);
}

asio::awaitable<absl::StatusOr<std::string>> SessionEvents::Append(std::string session_id,
                                                                   std::string message) {
  auto commands = AppendCommands(session_id, std::move(message), max_len_, ttl_seconds_);
  auto [ec, replies] = co_await redis_->AsyncPipeline(std::move(commands), kTuple);
  if (ec) co_return Unavailable(ec);
  for (const redis::Reply& reply : replies) {
    if (reply.IsError()) co_return ErrorReply(reply);
  }
  co_return replies[0].str;
}

void SessionEvents::Publish(std::string session_id, std::string message) {
  auto commands = AppendCommands(session_id, std::move(message), max_len_, ttl_seconds_);
  redis_->AsyncPipeline(std::move(commands),
                        [session = std::move(session_id)](boost::system::error_code ec,
                                                          std::vector<redis::Reply> replies) {
                          if (ec) {
                            log::Warn("cannot publish a session message",
                                      {{"session", session.substr(0, 8)}, {"error", ec.message()}});
                            return;
                          }
                          for (const redis::Reply& reply : replies) {
                            if (reply.IsError()) {
                              log::Warn("cannot publish a session message",
                                        {{"session", session.substr(0, 8)}, {"error", reply.str}});
                              return;
                            }
                          }
                        });
}

asio::awaitable<absl::StatusOr<std::vector<StoredEvent>>> SessionEvents::ReadAfter(
    std::string session_id, std::string after_id, size_t count) {
  std::vector<std::string> command = {"XRANGE", StreamKey(session_id), StrCat("(", after_id), "+",
                                      "COUNT",  std::to_string(count)};
  auto [ec, reply] = co_await redis_->AsyncCommand(std::move(command), kTuple);
  if (ec) co_return Unavailable(ec);
  if (reply.IsError()) co_return ErrorReply(reply);
  std::vector<StoredEvent> events;
  if (!reply.IsArray()) co_return events;
  events.reserve(reply.elements.size());
  for (redis::Reply& entry : reply.elements) {
    if (!entry.IsArray() || entry.elements.size() != 2 || !entry.elements[1].IsArray()) continue;
    StoredEvent event{std::move(entry.elements[0].str), {}};
    auto& fields = entry.elements[1].elements;
    for (size_t i = 0; i + 1 < fields.size(); i += 2) {
      if (fields[i].str == "m") event.message = std::move(fields[i + 1].str);
    }
    events.push_back(std::move(event));
  }
  co_return events;
}

asio::awaitable<absl::StatusOr<std::string>> SessionEvents::LastId(std::string session_id) {
  std::vector<std::string> command = {"XREVRANGE", StreamKey(session_id), "+", "-", "COUNT", "1"};
  auto [ec, reply] = co_await redis_->AsyncCommand(std::move(command), kTuple);
  if (ec) co_return Unavailable(ec);
  if (reply.IsError()) co_return ErrorReply(reply);
  if (!reply.IsArray() || reply.elements.empty() || !reply.elements[0].IsArray() ||
      reply.elements[0].elements.empty()) {
    co_return std::string("0-0");
  }
  co_return std::move(reply.elements[0].elements[0].str);
}

asio::awaitable<absl::Status> SessionEvents::End(std::string session_id) {
  std::vector<std::vector<std::string>> commands = {{"DEL", StreamKey(session_id)},
                                                    {"PUBLISH", Channel(session_id), "close"}};
  auto [ec, replies] = co_await redis_->AsyncPipeline(std::move(commands), kTuple);
  if (ec) co_return Unavailable(ec);
  for (const redis::Reply& reply : replies) {
    if (reply.IsError()) co_return ErrorReply(reply);
  }
  co_return absl::OkStatus();
}

asio::awaitable<absl::StatusOr<SessionListener>> SessionEvents::Listen(std::string session_id) {
  SessionListener listener{session_id, StrCat(replica_id_, ".", crypto::RandomHex(8)),
                           std::make_shared<SignalQueue>(1)};
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) co_return absl::UnavailableError("event store: the edge is stopping");
    auto it = listeners_.find(session_id);
    if (it != listeners_.end()) {
      it->second.signals->Finish(StreamSignal::kClose);
      it->second = listener;
    } else {
      listeners_.emplace(session_id, listener);
    }
  }
  std::string channel = Channel(session_id);
  auto [sub_ec] = co_await subscriber_->AsyncSubscribe(channel, kTuple);
  if (sub_ec) {
    Unlisten(listener);
    co_return Unavailable(sub_ec);
  }
  std::vector<std::string> announce = {"PUBLISH", channel, StrCat(kOpenPrefix, listener.token)};
  auto [ec, reply] = co_await redis_->AsyncCommand(std::move(announce), kTuple);
  if (ec || reply.IsError()) {
    Unlisten(listener);
    co_return ec ? Unavailable(ec) : ErrorReply(reply);
  }
  co_return listener;
}

void SessionEvents::Unlisten(const SessionListener& listener) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = listeners_.find(listener.session_id);
    if (it == listeners_.end() || it->second.token != listener.token) return;
    listeners_.erase(it);
  }
  listener.signals->Close();
  subscriber_->Unsubscribe(Channel(listener.session_id));
}

struct SessionEvents::Heartbeat {
  explicit Heartbeat(asio::any_io_executor executor) : timer(std::move(executor)) {}
  asio::steady_timer timer;
  std::atomic<bool> stopped{false};
};

std::string SessionEvents::ReplicaKey(std::string_view id) { return StrCat("sb:edge:", id); }

void SessionEvents::StartHeartbeat(std::chrono::milliseconds period) {
  auto beat = std::make_shared<Heartbeat>(executor_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || heartbeat_) return;
    heartbeat_ = beat;
  }
  std::string ttl_ms = std::to_string(std::max<int64_t>(period.count() * 3, 1000));
  asio::co_spawn(
      executor_,
      [beat, redis = redis_, key = ReplicaKey(replica_id_), ttl_ms,
       period]() -> asio::awaitable<void> {
        while (!beat->stopped) {
          std::vector<std::string> set = {"SET", key, "1", "PX", ttl_ms};
          auto [ec, reply] = co_await redis->AsyncCommand(std::move(set), kTuple);
          if (ec || reply.IsError()) {
            log::Warn("cannot renew this replica's liveness key",
                      {{"error", ec ? ec.message() : reply.str}});
          }
          beat->timer.expires_after(period);
          co_await beat->timer.async_wait(kTuple);
        }
        // Stopped: the requests this replica took are no longer served.
        std::vector<std::string> del = {"DEL", key};
        co_await redis->AsyncCommand(std::move(del), kTuple);
      },
      asio::detached);
}

asio::awaitable<absl::StatusOr<bool>> SessionEvents::ReplicaAlive(std::string id) {
  std::vector<std::string> command = {"EXISTS", ReplicaKey(id)};
  auto [ec, reply] = co_await redis_->AsyncCommand(std::move(command), kTuple);
  if (ec) co_return Unavailable(ec);
  if (reply.IsError()) co_return ErrorReply(reply);
  co_return reply.integer > 0;
}

void SessionEvents::Close() {
  std::unordered_map<std::string, SessionListener> closing;
  std::shared_ptr<Heartbeat> beat;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) return;
    closed_ = true;
    closing.swap(listeners_);
    beat = heartbeat_;
  }
  if (beat) {
    beat->stopped = true;
    asio::post(beat->timer.get_executor(), [beat] { beat->timer.cancel(); });
  }
  for (auto& [id, listener] : closing) listener.signals->Finish(StreamSignal::kClose);
  subscriber_->Close();
}

size_t SessionEvents::listeners() const {
  std::lock_guard<std::mutex> lock(mu_);
  return listeners_.size();
}

void SessionEvents::OnMessage(const std::string& channel, std::string payload) {
  if (channel.size() <= kChannelPrefix.size()) return;
  std::string session_id = channel.substr(kChannelPrefix.size());
  std::lock_guard<std::mutex> lock(mu_);
  auto it = listeners_.find(session_id);
  if (it == listeners_.end()) return;
  SignalQueue& signals = *it->second.signals;
  if (payload == "event") {
    signals.Push(StreamSignal::kWake);  // a full queue already holds a wake-up
  } else if (payload == "close") {
    signals.Finish(StreamSignal::kClose);
  } else if (std::string_view(payload).substr(0, kOpenPrefix.size()) == kOpenPrefix) {
    // A stream opened on this replica already replaced the local one in Listen.
    std::string_view token = std::string_view(payload).substr(kOpenPrefix.size());
    if (token.substr(0, replica_id_.size() + 1) != StrCat(replica_id_, ".")) {
      signals.Finish(StreamSignal::kClose);
    }
  }
}

void SessionEvents::WakeAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [id, listener] : listeners_) listener.signals->Push(StreamSignal::kWake);
}

}  // namespace switchboard::edge
