#include "tools/sb-load/src/stdio_client.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <cstring>

#include "switchboard/common/strings.h"
#include "switchboard/jsonrpc/message.h"

namespace switchboard::load {

namespace asio = boost::asio;

namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kReadChunk = 64 * 1024;
constexpr uint64_t kInitializeId = 0;

}  // namespace

// A request in flight: woken (its timer cancelled) when the answer arrives or the peer dies.
struct StdioPeer::Waiter {
  explicit Waiter(asio::any_io_executor executor) : timer(std::move(executor)) {}
  asio::steady_timer timer;
  std::string answer;
  bool done = false;
};

StdioPeer::StdioPeer(asio::any_io_executor executor, std::unique_ptr<StdioProcess> process,
                     std::chrono::nanoseconds timeout)
    : executor_(executor),
      process_(std::move(process)),
      stdin_(executor, process_->ReleaseStdin()),
      stdout_(executor, process_->ReleaseStdout()),
      timeout_(timeout) {}

StdioPeer::~StdioPeer() {
  boost::system::error_code ignored;
  stdin_.close(ignored);
  stdout_.close(ignored);
}

absl::StatusOr<std::shared_ptr<StdioPeer>> StdioPeer::Start(asio::any_io_executor executor,
                                                            const std::vector<std::string>& argv,
                                                            std::chrono::nanoseconds timeout) {
  absl::StatusOr<std::unique_ptr<StdioProcess>> process = StdioProcess::Start(argv, false);
  if (!process.ok()) return process.status();
  return std::shared_ptr<StdioPeer>(new StdioPeer(executor, std::move(*process), timeout));
}

void StdioPeer::Send(std::string_view line) {
  out_pending_.append(line);
  out_pending_.push_back('\n');
  if (!writing_) {
    writing_ = true;
    asio::co_spawn(
        executor_, [self = shared_from_this()] { return self->WriteLoop(); }, asio::detached);
  }
}

asio::awaitable<void> StdioPeer::WriteLoop() {
  // Everything queued while a write is under way goes out in the next single write.
  while (!out_pending_.empty() && dead_.empty()) {
    out_flight_.clear();
    out_flight_.swap(out_pending_);
    auto [ec, n] = co_await asio::async_write(stdin_, asio::buffer(out_flight_), kTuple);
    if (ec) {
      FailAll(StrCat("writing to the server: ", ec.message()));
      break;
    }
  }
  out_pending_.clear();
  writing_ = false;
}

asio::awaitable<void> StdioPeer::ReadLoop() {
  std::string buffer;
  std::vector<char> chunk(kReadChunk);
  size_t scanned = 0;
  while (true) {
    auto [ec, n] = co_await stdout_.async_read_some(asio::buffer(chunk), kTuple);
    buffer.append(chunk.data(), n);
    if (ec) {
      FailAll(ec == asio::error::eof ? std::string("the server closed its stdout")
                                     : StrCat("reading from the server: ", ec.message()));
      break;
    }
    size_t start = 0;
    while (true) {
      const char* base = buffer.data();
      const void* nl = std::memchr(base + start + scanned, '\n', buffer.size() - start - scanned);
      if (nl == nullptr) {
        scanned = buffer.size() - start;
        break;
      }
      size_t end = static_cast<size_t>(static_cast<const char*>(nl) - base);
      OnLine(std::string_view(base + start, end - start));
      start = end + 1;
      scanned = 0;
    }
    buffer.erase(0, start);
  }
  reading_ = false;
}

void StdioPeer::OnLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  jsonrpc::Envelope env;
  jsonrpc::ScanError error;
  if (!jsonrpc::Scan(line, &env, &error) || env.kind != jsonrpc::Kind::kResponse) return;
  std::optional<uint64_t> id = jsonrpc::ParseUintId(env.id.In(line));
  if (!id) return;
  auto it = waiting_.find(*id);
  if (it == waiting_.end()) return;  // late: its caller timed out
  Waiter* waiter = it->second;
  waiting_.erase(it);
  waiter->answer.assign(line);
  waiter->done = true;
  waiter->timer.cancel();
}

void StdioPeer::FailAll(const std::string& why) {
  if (dead_.empty()) dead_ = why;
  for (auto& [id, waiter] : waiting_) waiter->timer.cancel();
  waiting_.clear();
}

asio::awaitable<std::optional<Failure>> StdioPeer::Exchange(uint64_t id, std::string_view line,
                                                            std::string* answer) {
  if (!dead_.empty()) co_return Failure{FailureKind::kIo, 0, dead_};
  if (!reading_) {
    reading_ = true;
    asio::co_spawn(
        executor_, [self = shared_from_this()] { return self->ReadLoop(); }, asio::detached);
  }
  if (waiting_.count(id)) co_return Failure{FailureKind::kMismatch, 0, "duplicate request id"};
  Waiter waiter(executor_);
  waiting_.emplace(id, &waiter);
  Send(line);  // does not suspend, so the answer cannot arrive before the wait starts
  waiter.timer.expires_after(timeout_);
  co_await waiter.timer.async_wait(kTuple);
  if (waiter.done) {
    *answer = std::move(waiter.answer);
    co_return std::nullopt;
  }
  waiting_.erase(id);
  if (!dead_.empty()) co_return Failure{FailureKind::kIo, 0, dead_};
  co_return Failure{FailureKind::kTimeout, 0, "no answer in time"};
}

asio::awaitable<std::optional<Failure>> StdioPeer::Initialize(std::string_view protocol_version) {
  std::string answer;
  if (auto failure = co_await Exchange(kInitializeId,
                                       InitializeBody(kInitializeId, protocol_version), &answer)) {
    co_return failure;
  }
  std::string version;
  if (auto failure = VerifyInitializeMessage(kInitializeId, answer, &version)) co_return failure;
  Send(InitializedBody());
  co_return std::nullopt;
}

asio::awaitable<std::optional<Failure>> StdioPeer::Call(const Request& request) {
  std::string answer;
  if (auto failure = co_await Exchange(request.id, request.body, &answer)) co_return failure;
  co_return VerifyMessage(request, answer);
}

asio::awaitable<void> StdioPeer::Stop() {
  boost::system::error_code ignored;
  stdin_.close(ignored);
  // The reader sees end of file once the server exits; give it the time to do so.
  asio::steady_timer pause(executor_);
  for (int i = 0; i < 200 && reading_; ++i) {
    pause.expires_after(std::chrono::milliseconds(10));
    co_await pause.async_wait(kTuple);
  }
  stdout_.close(ignored);
  process_->Wait(std::chrono::milliseconds(100));
}

asio::awaitable<std::optional<Failure>> StdioClient::Open() { co_return std::nullopt; }

asio::awaitable<std::optional<Failure>> StdioClient::Call(const Request& request) {
  co_return co_await peer_->Call(request);
}

asio::awaitable<void> StdioClient::Close() { co_return; }

}  // namespace switchboard::load
