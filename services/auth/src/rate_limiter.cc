#include "services/auth/src/rate_limiter.h"

#include <utility>

#include "switchboard/common/crypto.h"
#include "switchboard/common/log.h"
#include "switchboard/common/strings.h"

namespace switchboard::auth {
namespace {

// GCRA with a burst of one minute's worth: a bucket's value is its theoretical arrival time
// (TAT, microseconds of Redis's clock); a request fits when TAT + interval - now <= 60 s.
constexpr char kScriptText[] = R"lua(
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local window = 60000000
local worst, refused = 0, 0
local tats = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[i])
  if not rate or rate <= 0 then return redis.error_reply('bad rate for key ' .. i) end
  local tat = tonumber(redis.call('GET', key) or '0') or 0
  if tat < now then tat = now end
  local next_tat = tat + window / rate
  local wait = next_tat - window - now
  if wait > 0 and wait > worst then worst, refused = wait, i end
  tats[i] = next_tat
end
if refused > 0 then return {0, math.ceil(worst / 1000), refused} end
for i, key in ipairs(KEYS) do
  redis.call('SET', key, string.format('%.0f', tats[i]), 'PX',
             math.ceil((tats[i] - now) / 1000) + 1000)
end
return {1, 0, 0}
)lua";

// `verb` ("EVALSHA" or "EVAL") of `script` (its digest or its text) over `limits`' buckets.
std::vector<std::string> ScriptCommand(const char* verb, const std::string& script,
                                       const std::vector<Limit>& limits) {
  std::vector<std::string> command = {verb, script, std::to_string(limits.size())};
  for (const Limit& l : limits) command.push_back(l.key);
  for (const Limit& l : limits) command.push_back(std::to_string(l.per_minute));
  return command;
}

}  // namespace

absl::StatusOr<RedisDownPolicy> ParseRedisDownPolicy(std::string_view name) {
  if (name == "fail-open") return RedisDownPolicy::kFailOpen;
  if (name == "fail-closed") return RedisDownPolicy::kFailClosed;
  return absl::InvalidArgumentError(
      StrCat("'", name, "' is not a policy: use fail-open or fail-closed"));
}

absl::Status CheckRedisDownPolicy(std::string_view name) {
  return ParseRedisDownPolicy(name).status();
}

const std::string& RateLimiter::Script() {
  static const std::string script(kScriptText);
  return script;
}

RateLimiter::RateLimiter(std::shared_ptr<redis::RedisClient> redis, RedisDownPolicy policy)
    : redis_(std::move(redis)), policy_(policy), sha_(crypto::Sha1Hex(Script())) {}

void RateLimiter::Check(std::vector<Limit> limits, Done done) {
  if (limits.empty()) {
    done(LimitDecision{});
    return;
  }
  std::vector<std::string> command = ScriptCommand("EVALSHA", sha_, limits);
  redis_->AsyncCommand(
      std::move(command), [this, limits = std::move(limits), done = std::move(done)](
                              boost::system::error_code ec, redis::Reply reply) mutable {
        if (ec) return Failed(ec.message(), done);
        if (!reply.IsError() || reply.str.rfind("NOSCRIPT", 0) != 0) {
          return Finish(limits, reply, done);
        }
        // Redis restarted or its scripts were flushed: EVAL runs the script and caches it again.
        std::vector<std::string> eval = ScriptCommand("EVAL", Script(), limits);
        redis_->AsyncCommand(std::move(eval),
                             [this, limits = std::move(limits), done = std::move(done)](
                                 boost::system::error_code ec2, redis::Reply reply2) {
                               if (ec2) return Failed(ec2.message(), done);
                               Finish(limits, reply2, done);
                             });
      });
}

void RateLimiter::Finish(const std::vector<Limit>& limits, const redis::Reply& reply,
                         const Done& done) {
  if (reply.IsError()) return Failed(StrCat("redis replied ", reply.str), done);
  if (!reply.IsArray() || reply.elements.size() != 3) {
    return Failed("unexpected reply to the rate-limit script", done);
  }
  if (down_.exchange(false)) {
    log::Info("rate limits: redis answers again", {{"redis", redis_->endpoint().Describe()},
                                                   {"redis_failures_total", failures_.load()}});
  }
  LimitDecision decision;
  if (reply.elements[0].integer == 1) {
    done(decision);
    return;
  }
  decision.allowed = false;
  int64_t ms = reply.elements[1].integer;
  decision.retry_after_seconds = static_cast<int>(std::max<int64_t>(1, (ms + 999) / 1000));
  int64_t index = reply.elements[2].integer;
  if (index >= 1 && index <= static_cast<int64_t>(limits.size())) {
    decision.scope = limits[static_cast<size_t>(index - 1)].scope;
  }
  done(decision);
}

void RateLimiter::Failed(std::string_view error, const Done& done) {
  uint64_t total = ++failures_;
  bool open = policy_ == RedisDownPolicy::kFailOpen;
  // One line when Redis goes away (and one when it is back), not one per request.
  if (!down_.exchange(true)) {
    log::Warn("rate limits: redis unreachable", {{"redis", redis_->endpoint().Describe()},
                                                 {"error", error},
                                                 {"policy", open ? "fail-open" : "fail-closed"},
                                                 {"redis_failures_total", total}});
  }
  if (open) {
    LimitDecision decision;
    decision.unchecked = true;
    done(decision);
    return;
  }
  done(absl::UnavailableError("rate limits cannot be checked"));
}

}  // namespace switchboard::auth
