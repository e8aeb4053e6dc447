#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "services/edge/src/router_client.h"

namespace switchboard::edge {

// Several router replicas as one RouterClient. A session's messages all go to one replica,
// chosen by rendezvous (highest random weight) hashing of the session id over the replicas'
// names, so that every edge replica picks the same router for a session and the router keeps
// what it knows of it (log level, subscriptions, questions its servers asked). When that
// replica is unavailable the session's next-ranked replica takes it, and only the sessions of
// a lost replica move. Messages without a session (initialize, stateless requests) are spread
// round-robin over the available replicas.
class RouterPool : public RouterClient {
 public:
  struct Member {
    std::string name;  // stable across edge replicas: the router's address
    std::unique_ptr<RouterClient> client;
    std::function<bool()> available;  // false while the replica cannot be reached
  };
  explicit RouterPool(std::vector<Member> members);

  std::unique_ptr<RouterCall> Call(RouterMessage message) override;
  void Send(RouterMessage message) override;
  void SetSessionMessageHandler(SessionMessageHandler handler) override;

  // The member a message with `session_id` goes to now (exposed for tests).
  size_t Pick(std::string_view session_id);
  // The members in `session_id`'s rendezvous order, best first (exposed for tests).
  std::vector<size_t> Rank(std::string_view session_id) const;

 private:
  std::vector<Member> members_;
  std::atomic<uint64_t> next_{0};
};

}  // namespace switchboard::edge
