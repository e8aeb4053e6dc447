#include "libs/redis/src/connect.h"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <string>

#include "switchboard/common/log.h"
#include "switchboard/redis/client.h"

// GCC 12 reports a false -Wmismatched-new-delete on some Asio coroutine frames, which are
// allocated and freed by awaitable_frame_base's own operators (fixed in GCC 13).
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

namespace switchboard::redis {

namespace asio = boost::asio;
using boost::system::error_code;

asio::awaitable<error_code> ConnectAndHandshake(asio::ip::tcp::socket& socket,
                                                const RedisEndpoint& endpoint,
                                                std::chrono::milliseconds timeout, bool keep_alive,
                                                ReplyDecoder& decoder, std::span<char> read_buf,
                                                std::function<bool()> stale) {
  using namespace asio::experimental::awaitable_operators;
  constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
  const error_code aborted = asio::error::operation_aborted;
  asio::steady_timer deadline(socket.get_executor());
  deadline.expires_after(timeout);

  asio::ip::tcp::resolver resolver(socket.get_executor());
  auto resolved =
      co_await (resolver.async_resolve(endpoint.host, std::to_string(endpoint.port), kTuple) ||
                deadline.async_wait(kTuple));
  if (stale()) co_return aborted;
  if (resolved.index() == 1) co_return error_code(Error::kTimeout);
  auto [resolve_ec, results] = std::get<0>(resolved);
  if (resolve_ec) co_return resolve_ec;

  auto connected =
      co_await (asio::async_connect(socket, results, kTuple) || deadline.async_wait(kTuple));
  if (stale()) co_return aborted;
  if (connected.index() == 1) co_return error_code(Error::kTimeout);
  if (auto ec = std::get<0>(std::get<0>(connected))) co_return ec;
  error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  if (keep_alive) socket.set_option(asio::socket_base::keep_alive(true), ignored);

  // AUTH and SELECT complete before any user command is written, so a command can never run
  // unauthenticated or against the wrong database.
  size_t expected = 0;
  std::string hello = HandshakeCommands(endpoint, &expected);
  if (expected == 0) co_return error_code();
  auto written = co_await (asio::async_write(socket, asio::buffer(hello), kTuple) ||
                           deadline.async_wait(kTuple));
  if (stale()) co_return aborted;
  if (written.index() == 1) co_return error_code(Error::kTimeout);
  if (auto ec = std::get<0>(std::get<0>(written))) co_return ec;
  while (expected > 0) {
    auto next = decoder.Next();
    if (!next.ok()) co_return error_code(Error::kProtocol);
    if (next->has_value()) {
      if ((*next)->IsError()) {
        log::Error("redis handshake refused",
                   {{"redis", endpoint.Describe()}, {"reply", (*next)->str}});
        co_return error_code(Error::kHandshake);
      }
      --expected;
      continue;
    }
    auto read = co_await (socket.async_read_some(asio::buffer(read_buf.data(), read_buf.size()),
                                                 kTuple) ||
                          deadline.async_wait(kTuple));
    if (stale()) co_return aborted;
    if (read.index() == 1) co_return error_code(Error::kTimeout);
    auto [read_ec, n] = std::get<0>(read);
    if (read_ec) co_return read_ec;
    if (!decoder.Feed(std::string_view(read_buf.data(), n)).ok()) {
      co_return error_code(Error::kProtocol);
    }
  }
  co_return error_code();
}

}  // namespace switchboard::redis
