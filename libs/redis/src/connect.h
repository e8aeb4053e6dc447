#pragma once

#include <boost/asio/awaitable.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/system/error_code.hpp>
#include <chrono>
#include <functional>
#include <span>

#include "switchboard/redis/endpoint.h"
#include "switchboard/redis/resp.h"

namespace switchboard::redis {

// Resolves `endpoint`, connects `socket` and runs the AUTH/SELECT handshake, all within
// `timeout`. Replies are read through `read_buf` into `decoder`, which may keep bytes that
// followed the handshake replies. After every wait `stale()` is asked whether the caller gave
// this attempt up (the socket and decoder may already belong to a newer one); if so the
// attempt stops at once with operation_aborted and touches nothing more. Shared by
// RedisClient and RedisSubscriber.
boost::asio::awaitable<boost::system::error_code> ConnectAndHandshake(
    boost::asio::ip::tcp::socket& socket, const RedisEndpoint& endpoint,
    std::chrono::milliseconds timeout, bool keep_alive, ReplyDecoder& decoder,
    std::span<char> read_buf, std::function<bool()> stale);

}  // namespace switchboard::redis
