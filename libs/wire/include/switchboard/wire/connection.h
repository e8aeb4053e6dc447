#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <google/protobuf/message_lite.h>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace switchboard::wire {

// The call path between edge, router and runner: one TCP connection per pair carries protobuf
// messages both ways, each framed by its length (4 bytes, big-endian). Unlike a gRPC stream it
// is served by the owner's own io thread: a frame read is handled on that thread, and a frame
// sent from it is written from it, so a call crosses no thread inside the process.
//
// The first frame each way is the protocol's name: a client that dialled the wrong port is
// refused at once instead of misreading frames. It is sent without waiting for the peer's, so
// a new connection carries its first message in the same round trip.

struct Limits {
  size_t max_frame = 64u << 20;     // a longer frame closes the connection (INVALID_ARGUMENT)
  size_t max_pending = 256u << 20;  // bytes queued for a peer that does not read (RESOURCE_EXHAUSTED)
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Called on the connection's executor: each frame in order, then once with why it closed
  // (OK when the peer closed cleanly or Close was called).
  using OnFrame = std::function<void(std::string_view frame)>;
  using OnClosed = std::function<void(absl::Status status)>;

  // `socket` must be connected; its executor is the connection's. `protocol` is the name both
  // ends send first.
  static std::shared_ptr<Connection> Create(boost::asio::ip::tcp::socket socket,
                                            std::string protocol, Limits limits = {});
  // Connects to `address` ("host:port") for `protocol`, on `executor`. The connection exists
  // at once: frames sent meanwhile wait in its queue. One that cannot be made ends with why
  // (UNAVAILABLE naming the address, DEADLINE_EXCEEDED after `timeout_ms`, INVALID_ARGUMENT
  // for an address that is not host:port).
  static std::shared_ptr<Connection> Connect(boost::asio::any_io_executor executor,
                                             const std::string& address, std::string protocol,
                                             int timeout_ms, Limits limits = {});
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sets the handlers and begins reading (once connected). Call once, on any thread; a
  // connection that ended before gets its OnClosed then.
  void Start(OnFrame on_frame, OnClosed on_closed);

  // Queues one frame; from any thread. Frames queued while a write is under way go out
  // together in the next one. False once the connection is closed, or when the peer has left
  // more than `max_pending` bytes unread (the connection then closes).
  bool Send(const google::protobuf::MessageLite& message);
  bool Send(std::string_view frame);

  // Closes the connection from any thread; frames already queued are dropped. OnClosed follows.
  void Close();

  bool closed() const;
  const boost::asio::any_io_executor& executor() const { return executor_; }

 private:
  Connection(boost::asio::ip::tcp::socket socket, std::string protocol, Limits limits);

  // Appends a frame of `size` bytes written by `fill` to the pending bytes, under the lock.
  bool Queue(size_t size, const std::function<void(char*)>& fill);
  // Resolves and connects (Connect's connections); on the executor.
  void StartConnect(const std::string& address, int timeout_ms);
  // Starts reading and writing, once started and connected; on the executor.
  void Begin();
  void StartWrite();
  void Read();
  // Hands over every whole frame read; false once the connection has ended.
  bool HandleFrames();
  // Ends the connection with `status` (the first status wins); on the executor.
  void End(absl::Status status);
  // Calls OnClosed with the end's status and drops the handlers; on the executor.
  void ReportEnd();

  boost::asio::ip::tcp::socket socket_;
  boost::asio::any_io_executor executor_;
  const Limits limits_;
  const std::string protocol_;  // both ends' first frame
  OnFrame on_frame_;
  OnClosed on_closed_;

  // On the executor: bytes read and not yet handled are in_[in_begin_, in_end_); wanted_ is
  // the size of the frame under way once its header is in.
  std::vector<char> in_;
  size_t in_begin_ = 0;
  size_t in_end_ = 0;
  size_t wanted_ = 0;
  bool hello_seen_ = false;
  std::string out_;  // bytes being written (owned by the write under way)
  // On the executor, too.
  bool connected_ = false;
  bool started_ = false;  // Start has run
  bool ended_ = false;    // End has run
  absl::Status end_status_;
  std::unique_ptr<boost::asio::ip::tcp::resolver> resolver_;  // while connecting
  std::unique_ptr<boost::asio::steady_timer> connect_timer_;  // while connecting

  mutable std::mutex mu_;
  std::string pending_;     // guarded by mu_: frames queued since the write under way began
  bool ready_ = false;      // guarded by mu_: started and connected, so writes may begin
  bool writing_ = false;    // guarded by mu_
  bool closed_ = false;     // guarded by mu_
};

// Accepts connections on `listen` ("host:port"; port 0 picks one) and hands each to
// `on_connection` on its executor, which must call Start. New connections go to `executors` in
// turn (one per io thread).
class Listener {
 public:
  using OnConnection = std::function<void(std::shared_ptr<Connection>)>;

  static absl::StatusOr<std::unique_ptr<Listener>> Start(
      std::vector<boost::asio::any_io_executor> executors, const std::string& listen,
      std::string protocol, OnConnection on_connection, Limits limits = {});
  ~Listener();

  // The port bound (useful with port 0).
  uint16_t port() const { return port_; }
  // Stops accepting (on the acceptor's executor; this does not wait); connections already
  // handed over stay open. Idempotent.
  void Stop();

 private:
  struct State;
  Listener() = default;
  std::shared_ptr<State> state_;
  uint16_t port_ = 0;
};

}  // namespace switchboard::wire
