#include "services/registry/src/call_audit_drain.h"

#include <boost/asio/use_future.hpp>
#include <charconv>
#include <future>

#include "switchboard/common/log.h"
#include "switchboard/common/status.h"
#include "switchboard/common/strings.h"

namespace switchboard::registry {
namespace {

constexpr std::chrono::seconds kStoreTimeout{30};
constexpr size_t kBatch = 500;  // entries read, stored and acknowledged at once

int64_t ToInt(const std::string& s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

std::vector<std::pair<std::string, v1::ToolCall>> ParseToolCallEntries(
    const redis::Reply& reply, std::vector<std::string>* ids) {
  std::vector<std::pair<std::string, v1::ToolCall>> calls;
  if (!reply.IsArray()) return calls;
  for (const redis::Reply& stream : reply.elements) {
    if (!stream.IsArray() || stream.elements.size() != 2) continue;
    for (const redis::Reply& entry : stream.elements[1].elements) {
      if (!entry.IsArray() || entry.elements.size() != 2) continue;
      const std::string& id = entry.elements[0].str;
      ids->push_back(id);
      const redis::Reply& fields = entry.elements[1];
      if (!fields.IsArray()) continue;
      v1::ToolCall call;
      bool complete = false;
      for (size_t i = 0; i + 1 < fields.elements.size(); i += 2) {
        const std::string& f = fields.elements[i].str;
        const std::string& v = fields.elements[i + 1].str;
        if (f == "at_ms") {
          call.set_at_unix_ms(ToInt(v));
          complete = true;
        } else if (f == "user") {
          call.set_user_email(v);
        } else if (f == "endpoint") {
          call.set_endpoint(v);
        } else if (f == "tool") {
          call.set_tool(v);
        } else if (f == "outcome") {
          call.set_outcome(v);
        } else if (f == "duration_ms") {
          call.set_duration_ms(ToInt(v));
        }
      }
      if (complete && !call.endpoint().empty() && !call.tool().empty()) {
        calls.emplace_back(id, std::move(call));
      }
    }
  }
  return calls;
}

void CallAuditDrain::Start() {
  thread_ = std::thread([this] { Run(); });
}

void CallAuditDrain::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void CallAuditDrain::Pause(std::chrono::milliseconds how_long) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, how_long, [this] { return stopping_; });
}

void CallAuditDrain::Run() {
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return;
    }
    Outcome outcome = Outcome::kFailed;
    try {
      outcome = Round();
    } catch (const std::exception& e) {
      outcome = Failed("cannot drain", e.what());
    }
    if (outcome == Outcome::kFailed) {
      recovering_ = true;
      Pause(std::chrono::seconds(1));
    } else if (outcome == Outcome::kCaughtUp && interval_.count() > 0) {
      Pause(interval_);
    }
  }
}

CallAuditDrain::Outcome CallAuditDrain::Failed(std::string_view what, std::string_view error) {
  if (!down_) log::Warn(StrCat("tool call audit: ", what), {{"error", error}});
  down_ = true;
  return Outcome::kFailed;
}

CallAuditDrain::Outcome CallAuditDrain::Round() {
  auto command = [this](std::vector<std::string> args) {
    return redis_->AsyncCommand(std::move(args), boost::asio::use_future).get();
  };
  const std::string batch = std::to_string(kBatch);
  std::vector<std::string> ids;
  std::vector<std::pair<std::string, v1::ToolCall>> calls;
  redis::Reply reply;
  if (recovering_) {
    // After start-up or a failure: the group may be missing (a new or restarted Redis), and
    // entries read before but not acknowledged (a failed store, or a crash) come first.
    redis::Reply created =
        command({"XGROUP", "CREATE", kToolCallStream, kToolCallGroup, "0", "MKSTREAM"});
    if (created.IsError() && created.str.rfind("BUSYGROUP", 0) != 0) {
      return Failed("cannot create the group", created.str);
    }
    reply = command({"XREADGROUP", "GROUP", kToolCallGroup, kToolCallGroup, "COUNT", batch,
                     "STREAMS", kToolCallStream, "0"});
    calls = ParseToolCallEntries(reply, &ids);
    recovering_ = !ids.empty();  // until none is left pending
  }
  if (!reply.IsError() && ids.empty()) {
    reply = command({"XREADGROUP", "GROUP", kToolCallGroup, kToolCallGroup, "COUNT", batch,
                     "BLOCK", "1000", "STREAMS", kToolCallStream, ">"});
    calls = ParseToolCallEntries(reply, &ids);
  }
  if (reply.IsError()) return Failed("cannot read", reply.str);
  if (ids.empty()) return Outcome::kCaughtUp;
  if (!calls.empty()) {
    auto stored = std::make_shared<std::promise<absl::Status>>();
    std::future<absl::Status> result = stored->get_future();
    service_->RecordToolCalls(std::move(calls), [stored](absl::StatusOr<bool> done) {
      stored->set_value(done.status());
    });
    if (result.wait_for(kStoreTimeout) != std::future_status::ready) {
      return Failed("storing timed out", "no answer from the database");
    }
    absl::Status status = result.get();
    if (!status.ok()) return Failed("cannot store", MessageOf(status));
    batches_stored_.fetch_add(1, std::memory_order_relaxed);
  }
  std::vector<std::string> ack = {"XACK", kToolCallStream, kToolCallGroup};
  std::vector<std::string> del = {"XDEL", kToolCallStream};
  for (const std::string& id : ids) {
    ack.push_back(id);
    del.push_back(id);
  }
  redis_->AsyncPipeline({std::move(ack), std::move(del)}, boost::asio::use_future).get();
  if (down_) log::Info("tool call audit: draining again");
  down_ = false;
  return ids.size() >= kBatch ? Outcome::kMore : Outcome::kCaughtUp;
}

}  // namespace switchboard::registry
