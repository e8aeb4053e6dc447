#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "switchboard/redis/client.h"

namespace switchboard::edge {

// One tools/call as the edge relayed it. Arguments are never part of it.
struct ToolCallRecord {
  int64_t at_unix_ms = 0;  // when the edge received it
  std::string user_email;
  std::string endpoint;
  std::string tool;
  std::string outcome;  // see OutcomeOf
  int64_t duration_ms = 0;
};

// "ok", "tool_error" (a result with isError: true), "timeout" (-32002) or "error" (any other
// JSON-RPC error, or a message that is not a response) for a call's final message.
std::string OutcomeOf(std::string_view final_message);

// Where the edge records tools/calls. Record never blocks or fails the call it records.
class CallAudit {
 public:
  virtual ~CallAudit() = default;
  virtual void Record(ToolCallRecord record) = 0;
};

// Appends each record to the Redis stream sb:audit:calls (trimmed to about `max_len` entries),
// which the registry drains into Postgres. A failure is logged (once until appends work again)
// and the record dropped.
class RedisCallAudit : public CallAudit {
 public:
  RedisCallAudit(std::shared_ptr<redis::RedisClient> redis, size_t max_len);
  void Record(ToolCallRecord record) override;

 private:
  std::shared_ptr<redis::RedisClient> redis_;
  std::string max_len_;
  std::shared_ptr<std::atomic<bool>> failing_;
};

// The hook a relayed tools/call of `tool` by `user_email` on `endpoint`, starting now, ends
// with: records it with `audit` once its final message is known. An empty function when `audit`
// is null or `tool` is empty (not a tools/call).
std::function<void(std::string_view final_message)> AuditHook(CallAudit* audit,
                                                                std::string user_email,
                                                                std::string endpoint,
                                                                std::string tool);

}  // namespace switchboard::edge
