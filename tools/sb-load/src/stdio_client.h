#pragma once

#include <absl/status/statusor.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "tools/sb-load/src/client.h"
#include "tools/sb-load/src/stdio_process.h"

namespace switchboard::load {

// A STDIO MCP server driven directly: one child process whose stdin and stdout carry
// newline-delimited JSON-RPC, shared by any number of StdioClients with requests in flight at
// once (answers are matched by id, so the server may answer in any order). Lives on one
// io_context thread; create it with Start and keep the shared_ptr until Stop has finished.
class StdioPeer : public std::enable_shared_from_this<StdioPeer> {
 public:
  static absl::StatusOr<std::shared_ptr<StdioPeer>> Start(boost::asio::any_io_executor executor,
                                                          const std::vector<std::string>& argv,
                                                          std::chrono::nanoseconds timeout);
  ~StdioPeer();

  // initialize + notifications/initialized, once for the process.
  boost::asio::awaitable<std::optional<Failure>> Initialize(std::string_view protocol_version);
  // Sends `request` (its id must be unique among those in flight) and waits for the answer.
  boost::asio::awaitable<std::optional<Failure>> Call(const Request& request);
  // Closes the server's stdin and waits (up to two seconds) for it to exit.
  boost::asio::awaitable<void> Stop();

  int pid() const { return process_->pid(); }

 private:
  struct Waiter;

  StdioPeer(boost::asio::any_io_executor executor, std::unique_ptr<StdioProcess> process,
            std::chrono::nanoseconds timeout);
  // Sends one line and waits for the answer with id `id`; the answer's text or a failure.
  boost::asio::awaitable<std::optional<Failure>> Exchange(uint64_t id, std::string_view line,
                                                          std::string* answer);
  void Send(std::string_view line);
  boost::asio::awaitable<void> WriteLoop();
  boost::asio::awaitable<void> ReadLoop();
  void OnLine(std::string_view line);
  void FailAll(const std::string& why);

  boost::asio::any_io_executor executor_;
  std::unique_ptr<StdioProcess> process_;
  boost::asio::posix::stream_descriptor stdin_;
  boost::asio::posix::stream_descriptor stdout_;
  std::chrono::nanoseconds timeout_;
  std::unordered_map<uint64_t, Waiter*> waiting_;
  std::string out_pending_;
  std::string out_flight_;
  bool writing_ = false;
  bool reading_ = false;
  std::string dead_;  // why the process can no longer answer; empty while it can
};

// One simulated client of a StdioPeer; Open and Close do nothing (the peer is initialized once).
class StdioClient : public Client {
 public:
  explicit StdioClient(std::shared_ptr<StdioPeer> peer) : peer_(std::move(peer)) {}

  boost::asio::awaitable<std::optional<Failure>> Open() override;
  boost::asio::awaitable<std::optional<Failure>> Call(const Request& request) override;
  boost::asio::awaitable<void> Close() override;

 private:
  std::shared_ptr<StdioPeer> peer_;
};

}  // namespace switchboard::load
