#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

struct redisReader;

namespace switchboard::redis {

// One decoded RESP2 reply.
struct Reply {
  enum class Type { kNil, kString, kStatus, kError, kInteger, kArray };

  Type type = Type::kNil;
  std::string str;  // kString, kStatus and kError
  int64_t integer = 0;
  std::vector<Reply> elements;  // kArray

  bool IsNil() const { return type == Type::kNil; }
  bool IsError() const { return type == Type::kError; }
  bool IsString() const { return type == Type::kString; }
  bool IsInteger() const { return type == Type::kInteger; }
  bool IsArray() const { return type == Type::kArray; }
  // True for the status reply +OK.
  bool IsOk() const { return type == Type::kStatus && str == "OK"; }
};

// Appends one command, encoded as a RESP array of bulk strings, to `out`.
void AppendCommand(const std::vector<std::string>& args, std::string* out);

// Decodes a byte stream of RESP replies incrementally (hiredis's reader underneath). Not
// thread-safe; one per connection.
class ReplyDecoder {
 public:
  ReplyDecoder();
  ~ReplyDecoder();
  ReplyDecoder(const ReplyDecoder&) = delete;
  ReplyDecoder& operator=(const ReplyDecoder&) = delete;

  // Adds bytes read from the connection.
  absl::Status Feed(std::string_view bytes);
  // The next complete reply, nullopt when more bytes are needed, or an error when the stream is
  // not valid RESP (the decoder must then be Reset with the connection).
  absl::StatusOr<std::optional<Reply>> Next();
  // Forgets buffered bytes and any protocol error, for a new connection.
  void Reset();

 private:
  redisReader* reader_;
};

}  // namespace switchboard::redis
