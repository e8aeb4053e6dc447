#pragma once

#include <absl/status/statusor.h>

#include <boost/asio/awaitable.hpp>
#include <cstdint>
#include <optional>
#include <string>

namespace switchboard::edge {

// The record of one MCP session, shared by every edge replica.
struct SessionRecord {
  std::string id;  // Mcp-Session-Id: unguessable, visible ASCII
  std::string endpoint;
  std::string user_email;
  std::string api_key_id;
  std::string protocol_version;
  int64_t created_unix = 0;
  // "sse" for a 2024-11-05 HTTP+SSE session, whose replies all travel on its event stream;
  // empty for Streamable HTTP.
  std::string transport;
};

// Where sessions live. Any replica must see a session another one created, and a Delete on one
// replica is honoured by all.
class SessionStore {
 public:
  virtual ~SessionStore() = default;
  // Stores a new session with the store's time to live.
  virtual boost::asio::awaitable<absl::Status> Create(SessionRecord record) = 0;
  // Finds a live session and extends its time to live; nullopt when unknown, expired or ended.
  virtual boost::asio::awaitable<absl::StatusOr<std::optional<SessionRecord>>> Touch(
      std::string id) = 0;
  // Ends a session; true when it existed.
  virtual boost::asio::awaitable<absl::StatusOr<bool>> Delete(std::string id) = 0;
  // OK when the store answers.
  virtual boost::asio::awaitable<absl::Status> Ping() = 0;
};

}  // namespace switchboard::edge
