#include "services/edge/src/auth_answers.h"

#include <algorithm>
#include <string_view>

#include "switchboard/common/crypto.h"
#include "switchboard/common/strings.h"

namespace switchboard::edge {

namespace {

// Appends `field` so that no two sequences of fields read the same: its length, then itself.
void AppendField(std::string* out, std::string_view field) {
  out->append(std::to_string(field.size()));
  out->push_back(':');
  out->append(field);
}

}  // namespace

AuthAnswers::AuthAnswers(size_t max_entries) : max_entries_(std::max<size_t>(max_entries, 1)) {}

std::string AuthAnswers::KeyOf(const AuthQuery& query) {
  std::string question;
  question.reserve(query.endpoint.size() + query.credential.size() +
                   query.credential_source.size() + query.tool.size() +
                   query.remote_address.size() + 32);
  AppendField(&question, query.endpoint);
  AppendField(&question, query.credential_source);
  AppendField(&question, query.credential);
  AppendField(&question, query.tool);
  AppendField(&question, query.remote_address);
  return crypto::Sha256Hex(question);
}

void AuthAnswers::SetRevision(int64_t revision) {
  std::lock_guard<std::mutex> lock(mu_);
  if (revision == revision_) return;
  revision_ = revision;
  entries_.clear();
}

std::optional<AuthResult> AuthAnswers::Find(const std::string& key, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(key);
  if (it == entries_.end()) return std::nullopt;
  if (now >= it->second.expires) {
    entries_.erase(it);
    return std::nullopt;
  }
  return it->second.answer;
}

void AuthAnswers::Store(std::string key, const AuthResult& answer, Clock::time_point asked) {
  if (answer.decision != AuthResult::Decision::kAllow || answer.reuse.count() <= 0) return;
  Clock::time_point expires = asked + answer.reuse;
  Clock::time_point now = Clock::now();
  if (expires <= now) return;
  std::lock_guard<std::mutex> lock(mu_);
  // Decided under another configuration than the edge now holds: true then, maybe not now.
  if (answer.config_revision != revision_) return;
  auto it = entries_.find(key);
  if (it != entries_.end()) {
    it->second = Entry{answer, expires};
    return;
  }
  if (entries_.size() >= max_entries_) MakeRoom(now);
  entries_.emplace(std::move(key), Entry{answer, expires});
}

size_t AuthAnswers::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

void AuthAnswers::MakeRoom(Clock::time_point now) {
  std::erase_if(entries_, [now](const auto& entry) { return now >= entry.second.expires; });
  if (entries_.size() < max_entries_) return;
  // Still full of live answers: an eighth of them go, so that the next inserts do not each
  // sweep the whole map again.
  size_t target = max_entries_ - std::max<size_t>(max_entries_ / 8, 1);
  while (entries_.size() > target) entries_.erase(entries_.begin());
}

}  // namespace switchboard::edge
