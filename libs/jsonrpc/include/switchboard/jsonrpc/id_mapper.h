#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace switchboard::jsonrpc {

// Hands out fresh numeric JSON-RPC ids for messages sent to a shared upstream and remembers
// what each one stands for (the caller, the client's original id), so the response can be
// mapped back. Not thread-safe: owned by one strand.
template <typename T>
class IdMapper {
 public:
  // Records `value` and returns the id to send upstream.
  uint64_t Add(T value) {
    uint64_t id = next_++;
    pending_.emplace(id, std::move(value));
    return id;
  }

  // Removes and returns what `id` stood for; nullopt for an id never handed out (or taken).
  std::optional<T> Take(uint64_t id) {
    auto it = pending_.find(id);
    if (it == pending_.end()) return std::nullopt;
    T value = std::move(it->second);
    pending_.erase(it);
    return value;
  }

  // Looks at what `id` stands for without removing it.
  T* Find(uint64_t id) {
    auto it = pending_.find(id);
    return it == pending_.end() ? nullptr : &it->second;
  }
  const T* Find(uint64_t id) const {
    auto it = pending_.find(id);
    return it == pending_.end() ? nullptr : &it->second;
  }

  // Removes every entry, calling f(id, value) on each (to fail callers when an upstream dies).
  template <typename F>
  void Drain(F&& f) {
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [id, value] : pending) f(id, value);
  }

  // Removes every entry for which pred(value) is true.
  template <typename P>
  void EraseIf(P&& pred) {
    for (auto it = pending_.begin(); it != pending_.end();) {
      it = pred(it->second) ? pending_.erase(it) : std::next(it);
    }
  }

  // Calls f(id, value) on every entry (read-only).
  template <typename F>
  void ForEach(F&& f) const {
    for (const auto& [id, value] : pending_) f(id, value);
  }

  size_t size() const { return pending_.size(); }

 private:
  uint64_t next_ = 1;
  std::unordered_map<uint64_t, T> pending_;
};

}  // namespace switchboard::jsonrpc
