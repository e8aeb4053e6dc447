#include "services/edge/src/router_pool.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <utility>

namespace switchboard::edge {
namespace {

// 64-bit FNV-1a over the member's name and the key, then a final mix (splitmix64's) so that
// weights of similar strings are unrelated.
uint64_t Weight(std::string_view member, std::string_view key) {
  uint64_t h = 1469598103934665603ull;
  auto add = [&h](std::string_view s) {
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  };
  add(member);
  add(std::string_view("\0", 1));
  add(key);
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ull;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebull;
  h ^= h >> 31;
  return h;
}

}  // namespace

RouterPool::RouterPool(std::vector<Member> members) : members_(std::move(members)) {}

std::vector<size_t> RouterPool::Rank(std::string_view session_id) const {
  std::vector<std::pair<uint64_t, size_t>> weighted;
  weighted.reserve(members_.size());
  for (size_t i = 0; i < members_.size(); ++i) {
    weighted.emplace_back(Weight(members_[i].name, session_id), i);
  }
  std::sort(weighted.begin(), weighted.end(), std::greater<>());
  std::vector<size_t> out;
  out.reserve(weighted.size());
  for (const auto& [weight, i] : weighted) out.push_back(i);
  return out;
}

size_t RouterPool::Pick(std::string_view session_id) {
  auto up = [this](size_t i) { return !members_[i].available || members_[i].available(); };
  if (session_id.empty()) {
    // Round-robin over the available members, from the next one in turn.
    uint64_t start = next_.fetch_add(1, std::memory_order_relaxed);
    for (size_t k = 0; k < members_.size(); ++k) {
      size_t i = (start + k) % members_.size();
      if (up(i)) return i;
    }
    return start % members_.size();
  }
  // The highest-weighted available member; when none is up, the session's own (highest
  // weight of all), which fails fast and clearly. One pass: this runs for every message.
  std::optional<size_t> best_up;
  size_t best = 0;
  uint64_t best_weight = 0, best_up_weight = 0;
  for (size_t i = 0; i < members_.size(); ++i) {
    uint64_t weight = Weight(members_[i].name, session_id);
    if (weight >= best_weight) {  // ties as Rank orders them
      best = i;
      best_weight = weight;
    }
    if ((!best_up || weight >= best_up_weight) && up(i)) {
      best_up = i;
      best_up_weight = weight;
    }
  }
  return best_up.value_or(best);
}

std::unique_ptr<RouterCall> RouterPool::Call(RouterMessage message) {
  size_t i = Pick(message.session_id);
  return members_[i].client->Call(std::move(message));
}

void RouterPool::Send(RouterMessage message) {
  size_t i = Pick(message.session_id);
  members_[i].client->Send(std::move(message));
}

void RouterPool::SetSessionMessageHandler(SessionMessageHandler handler) {
  for (Member& m : members_) m.client->SetSessionMessageHandler(handler);
}

}  // namespace switchboard::edge
