#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "services/edge/src/auth_client.h"

namespace switchboard::edge {

// ALLOW answers that auth said the edge may give again (AuthResult::reuse), so that repeated
// requests skip the Authorize round trip. An answer holds until its expiry and only while the
// edge's configuration is at the revision auth decided it under: a new revision drops every
// answer at once, so a revoked key or a changed endpoint takes effect as soon as the edge's
// ConfigCache has it. Answers are keyed by a SHA-256 over everything auth decides from, so no
// credential is ever held in clear and a key's size does not depend on the request. At most
// `max_entries` are held: a full map drops the answers past their expiry and, when that is not
// enough, an eighth of the others (any of them: the next request just asks auth again).
// Thread-safe: one mutex around a hash map.
class AuthAnswers {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kDefaultMaxEntries = 10000;

  explicit AuthAnswers(size_t max_entries = kDefaultMaxEntries);

  // The key of `query`: its endpoint, credential, credential_source, tool and remote_address
  // (the last only counts against limits, which no reused answer has, but it is part of the
  // question). Not session_id or trace: auth's decision does not depend on them.
  static std::string KeyOf(const AuthQuery& query);

  // From now on answers hold under configuration `revision` (a registry revision): every answer
  // kept under another is dropped. Called with each new view of the edge's ConfigCache.
  void SetRevision(int64_t revision);

  // The answer kept for `key`, if it is still valid at `now` under the current revision.
  std::optional<AuthResult> Find(const std::string& key, Clock::time_point now = Clock::now());

  // Keeps `answer` (an ALLOW with a reuse period, decided under answer.config_revision) until
  // `asked + answer.reuse`, where `asked` is when auth was asked. Anything else, or an answer
  // from another revision than the current one, is not kept.
  void Store(std::string key, const AuthResult& answer, Clock::time_point asked);

  size_t size() const;

 private:
  struct Entry {
    AuthResult answer;
    Clock::time_point expires;
  };

  // Makes room for one more entry; mu_ held.
  void MakeRoom(Clock::time_point now);

  const size_t max_entries_;
  mutable std::mutex mu_;
  int64_t revision_ = -1;  // none before the first view: nothing is kept
  std::unordered_map<std::string, Entry> entries_;
};

}  // namespace switchboard::edge
