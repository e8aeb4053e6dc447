#include "services/edge/src/call_audit.h"

#include <atomic>

#include "switchboard/common/log.h"
#include "switchboard/jsonrpc/message.h"

namespace switchboard::edge {

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

std::string OutcomeOf(std::string_view final_message) {
  jsonrpc::Envelope env;
  jsonrpc::ScanError error;
  if (!jsonrpc::Scan(final_message, &env, &error) || env.kind != jsonrpc::Kind::kResponse) {
    return "error";
  }
  if (!env.error.empty()) {
    std::optional<jsonrpc::Span> code = jsonrpc::FindMember(final_message, env.error, "code");
    if (code && code->In(final_message) == std::to_string(jsonrpc::kUpstreamTimeout)) {
      return "timeout";
    }
    return "error";
  }
  std::optional<jsonrpc::Span> is_error = jsonrpc::FindMember(final_message, env.result, "isError");
  if (is_error && is_error->In(final_message) == "true") return "tool_error";
  return "ok";
}

RedisCallAudit::RedisCallAudit(std::shared_ptr<redis::RedisClient> redis, size_t max_len)
    : redis_(std::move(redis)),
      max_len_(std::to_string(max_len)),
      failing_(std::make_shared<std::atomic<bool>>(false)) {}

void RedisCallAudit::Record(ToolCallRecord r) {
  std::vector<std::string> command = {"XADD",
                                      "sb:audit:calls",
                                      "MAXLEN",
                                      "~",
                                      max_len_,
                                      "*",
                                      "at_ms",
                                      std::to_string(r.at_unix_ms),
                                      "user",
                                      std::move(r.user_email),
                                      "endpoint",
                                      std::move(r.endpoint),
                                      "tool",
                                      std::move(r.tool),
                                      "outcome",
                                      std::move(r.outcome),
                                      "duration_ms",
                                      std::to_string(r.duration_ms)};
  redis_->AsyncCommand(std::move(command),
                       [failing = failing_](boost::system::error_code ec, redis::Reply reply) {
                         bool failed = ec || reply.IsError();
                         if (failed && !failing->exchange(true)) {
                           log::Warn("tool call audit: cannot append",
                                     {{"error", ec ? ec.message() : reply.str}});
                         } else if (!failed) {
                           failing->store(false);
                         }
                       });
}

std::function<void(std::string_view)> AuditHook(CallAudit* audit, std::string user_email,
                                                std::string endpoint, std::string tool) {
  if (audit == nullptr || tool.empty()) return {};
  ToolCallRecord started;
  started.at_unix_ms = NowMs();
  started.user_email = std::move(user_email);
  started.endpoint = std::move(endpoint);
  started.tool = std::move(tool);
  auto begun = std::chrono::steady_clock::now();
  return [audit, started = std::move(started), begun](std::string_view final_message) mutable {
    started.outcome = OutcomeOf(final_message);
    started.duration_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - begun)
                              .count();
    audit->Record(std::move(started));
  };
}

}  // namespace switchboard::edge
