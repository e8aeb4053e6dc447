#pragma once

// In-memory stand-ins for the edge's collaborators, for tests that run the real HTTP server
// and EdgeService without auth, router or Redis.

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "services/edge/src/auth_client.h"
#include "services/edge/src/call_registry.h"
#include "services/edge/src/router_client.h"
#include "services/edge/src/session_store.h"
#include "switchboard/jsonrpc/message.h"

namespace switchboard::edge {

// Auth with a fixed set of endpoints and keys. "forbidden-key" is refused, "limited-key" is
// rate limited, and so is a known key's tools/call of "rate-limited"; any other key not in
// `keys` is unknown. OAuth metadata is served for the endpoints in `metadata`. Every ALLOW may
// be reused for `reuse` and names `config_revision`.
class FakeAuthClient : public AuthClient {
 public:
  std::map<std::string, bool> endpoints{{"team", true}, {"open", false}};  // name → needs a key
  std::map<std::string, std::string> keys{{"good-key", "ada@example.com"},
                                          {"other-key", "bob@example.com"}};
  bool unavailable = false;
  std::chrono::milliseconds reuse{0};
  int64_t config_revision = 0;

  boost::asio::awaitable<absl::StatusOr<AuthResult>> Authorize(AuthQuery query) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      queries_.push_back(query);
    }
    if (unavailable) co_return absl::UnavailableError("connection refused");
    AuthResult result;
    auto endpoint = endpoints.find(query.endpoint);
    if (endpoint == endpoints.end()) {
      result.decision = AuthResult::Decision::kNotFound;
      co_return result;
    }
    if (query.credential == "forbidden-key") {
      result.decision = AuthResult::Decision::kForbidden;
      result.reason = "key disabled";
    } else if (query.credential == "limited-key") {
      result.decision = AuthResult::Decision::kRateLimited;
      result.retry_after_seconds = 7;
    } else if (auto caller = keys.find(query.credential);
               caller != keys.end() && query.tool == "rate-limited") {
      // A known caller over a per-tool limit: auth says who was refused, and for how long.
      result.decision = AuthResult::Decision::kRateLimited;
      result.user_email = caller->second;
      result.reason = "tool call limit";
      result.retry_after_seconds = 3;
    } else if (auto key = keys.find(query.credential); key != keys.end()) {
      result.decision = AuthResult::Decision::kAllow;
      result.user_email = key->second;
      result.api_key_id = "id-" + query.credential;
    } else if (!endpoint->second && query.credential.empty()) {
      result.decision = AuthResult::Decision::kAllow;
    } else {
      result.decision = AuthResult::Decision::kUnauthenticated;
      result.reason = "missing or unknown API key";
    }
    if (result.decision == AuthResult::Decision::kAllow) result.reuse = reuse;
    result.config_revision = config_revision;
    co_return result;
  }

  boost::asio::awaitable<absl::StatusOr<std::optional<ResourceMetadata>>> GetResourceMetadata(
      std::string endpoint) override {
    if (unavailable) co_return absl::UnavailableError("connection refused");
    auto it = metadata.find(endpoint);
    if (it == metadata.end()) co_return std::nullopt;
    co_return it->second;
  }

  std::vector<AuthQuery> queries() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queries_;
  }

  std::map<std::string, ResourceMetadata> metadata;  // OAuth endpoints' RFC 9728 documents

 private:
  mutable std::mutex mu_;
  std::vector<AuthQuery> queries_;
};

// A router that answers from a script. By default: initialize gets a result naming
// 2025-06-18, tools/call "progress" sends a progress notification before its result, tools/call
// "slow" never answers, "stall" sends one notification and then nothing, and anything else
// gets {"ok":true}. Records what it was sent and which calls were cancelled.
class FakeRouterClient : public RouterClient {
 public:
  using Script = std::function<std::vector<RouterFrame>(const RouterMessage&)>;

  FakeRouterClient() : script(DefaultScript) {}

  Script script;

  std::unique_ptr<RouterCall> Call(RouterMessage message) override {
    auto frames = std::make_shared<FrameQueue>(1024);
    for (RouterFrame& frame : script(message)) {
      if (frame.final) {
        frames->Finish(std::move(frame));
      } else {
        frames->Push(std::move(frame));
      }
    }
    uint64_t id;
    {
      std::lock_guard<std::mutex> lock(mu_);
      id = calls_.size();
      calls_.push_back(std::move(message));
      queues_.push_back(frames);
    }
    cv_.notify_all();
    return std::make_unique<Call_>(this, id, std::move(frames));
  }

  void Send(RouterMessage message) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      sent_.push_back(std::move(message));
    }
    cv_.notify_all();
  }

  void SetSessionMessageHandler(SessionMessageHandler handler) override {
    std::lock_guard<std::mutex> lock(mu_);
    session_handler_ = std::move(handler);
  }

  // Delivers a message for a session, as the router does with a call_id 0 frame.
  void PushSessionMessage(std::string session_id, std::string message) {
    SessionMessageHandler handler;
    {
      std::lock_guard<std::mutex> lock(mu_);
      handler = session_handler_;
    }
    if (handler) handler(std::move(session_id), std::move(message));
  }

  // Sends a further frame on call `index` (in the order calls were made), as the router does
  // while a call runs; `final` ends it.
  void PushFrame(size_t index, std::string message, bool final) {
    std::shared_ptr<FrameQueue> frames;
    {
      std::lock_guard<std::mutex> lock(mu_);
      frames = queues_.at(index);
    }
    if (final) {
      frames->Finish(RouterFrame{std::move(message), true});
    } else {
      frames->Push(RouterFrame{std::move(message), false});
    }
  }

  std::vector<RouterMessage> calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return calls_;
  }
  std::vector<RouterMessage> sent() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sent_;
  }
  std::vector<uint64_t> cancelled() const {
    std::lock_guard<std::mutex> lock(mu_);
    return cancelled_;
  }

  // Waits until `predicate` holds over this router's records.
  bool WaitFor(const std::function<bool()>& predicate,
               std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, timeout, [&] {
      lock.unlock();
      bool done = predicate();
      lock.lock();
      return done;
    });
  }

  static std::vector<RouterFrame> DefaultScript(const RouterMessage& message) {
    jsonrpc::Envelope env;
    jsonrpc::ScanError error;
    if (!jsonrpc::Scan(message.message, &env, &error)) return {};
    std::string id(env.id.In(message.message));
    if (env.method == "initialize") {
      return {{jsonrpc::MakeResult(id, R"({"protocolVersion":"2025-06-18","capabilities":{},)"
                                       R"("serverInfo":{"name":"fake","version":"1"}})"),
               true}};
    }
    std::string tool;
    if (env.method == "tools/call") {
      if (auto name = jsonrpc::FindMember(message.message, env.params, "name")) {
        tool = jsonrpc::DecodeString(name->In(message.message)).value_or("");
      }
    }
    if (tool == "slow") return {};
    if (tool == "stall") {
      return {{jsonrpc::MakeNotification("notifications/progress",
                                         R"({"progressToken":1,"progress":1})"),
               false}};
    }
    if (tool == "progress") {
      return {{jsonrpc::MakeNotification("notifications/progress",
                                         R"({"progressToken":1,"progress":1,"total":2})"),
               false},
              {"{\"jsonrpc\":\"2.0\",\n\"method\":\"notifications/message\",\n"
               "\"params\":{\"level\":\"info\",\"data\":\"x\"}}",
               false},
              {jsonrpc::MakeResult(id, R"({"content":[{"type":"text","text":"done"}]})"), true}};
    }
    return {{jsonrpc::MakeResult(id, R"({"ok":true})"), true}};
  }

 private:
  class Call_ final : public RouterCall {
   public:
    Call_(FakeRouterClient* owner, uint64_t id, std::shared_ptr<FrameQueue> frames)
        : owner_(owner), id_(id), frames_(std::move(frames)) {}
    ~Call_() override { Record(); }

    boost::asio::awaitable<absl::StatusOr<RouterFrame>> Next() override {
      return NextFrame(*frames_, finished_);
    }

    void Cancel() override { Record(); }

   private:
    void Record() {
      if (finished_) return;
      finished_ = true;
      {
        std::lock_guard<std::mutex> lock(owner_->mu_);
        owner_->cancelled_.push_back(id_);
      }
      owner_->cv_.notify_all();
    }

    FakeRouterClient* owner_;
    uint64_t id_;
    std::shared_ptr<FrameQueue> frames_;
    bool finished_ = false;
  };

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<RouterMessage> calls_;
  std::vector<std::shared_ptr<FrameQueue>> queues_;
  std::vector<RouterMessage> sent_;
  std::vector<uint64_t> cancelled_;
  SessionMessageHandler session_handler_;
};

// Sessions in a map.
class FakeSessionStore : public SessionStore {
 public:
  bool unavailable = false;

  boost::asio::awaitable<absl::Status> Create(SessionRecord record) override {
    if (unavailable) co_return absl::UnavailableError("store down");
    std::lock_guard<std::mutex> lock(mu_);
    sessions_[record.id] = record;
    co_return absl::OkStatus();
  }

  boost::asio::awaitable<absl::StatusOr<std::optional<SessionRecord>>> Touch(
      std::string id) override {
    if (unavailable) co_return absl::UnavailableError("store down");
    std::lock_guard<std::mutex> lock(mu_);
    auto it = sessions_.find(id);
    if (it == sessions_.end()) co_return std::optional<SessionRecord>();
    co_return std::optional<SessionRecord>(it->second);
  }

  boost::asio::awaitable<absl::StatusOr<bool>> Delete(std::string id) override {
    if (unavailable) co_return absl::UnavailableError("store down");
    std::lock_guard<std::mutex> lock(mu_);
    co_return sessions_.erase(id) > 0;
  }

  boost::asio::awaitable<absl::Status> Ping() override {
    if (unavailable) co_return absl::UnavailableError("store down");
    co_return absl::OkStatus();
  }

  std::map<std::string, SessionRecord> sessions() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sessions_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::string, SessionRecord> sessions_;
};

}  // namespace switchboard::edge
