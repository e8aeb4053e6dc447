#include "switchboard/redis/resp.h"

#include <hiredis/hiredis.h>

#include <new>

#include "switchboard/common/strings.h"

namespace switchboard::redis {
namespace {

Reply Convert(const redisReply* r) {
  Reply out;
  switch (r->type) {
    case REDIS_REPLY_STRING:
      out.type = Reply::Type::kString;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_STATUS:
      out.type = Reply::Type::kStatus;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_ERROR:
      out.type = Reply::Type::kError;
      out.str.assign(r->str, r->len);
      break;
    case REDIS_REPLY_INTEGER:
      out.type = Reply::Type::kInteger;
      out.integer = r->integer;
      break;
    case REDIS_REPLY_ARRAY:
      out.type = Reply::Type::kArray;
      out.elements.reserve(r->elements);
      for (size_t i = 0; i < r->elements; ++i) out.elements.push_back(Convert(r->element[i]));
      break;
    case REDIS_REPLY_NIL:
    default:
      out.type = Reply::Type::kNil;
      break;
  }
  return out;
}

}  // namespace

void AppendCommand(const std::vector<std::string>& args, std::string* out) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* cmd = nullptr;
  int len = redisFormatCommandArgv(&cmd, static_cast<int>(args.size()), argv.data(), lens.data());
  if (len < 0 || cmd == nullptr) throw std::bad_alloc();
  out->append(cmd, static_cast<size_t>(len));
  redisFreeCommand(cmd);
}

ReplyDecoder::ReplyDecoder() : reader_(redisReaderCreate()) {
  if (reader_ == nullptr) throw std::bad_alloc();
}

ReplyDecoder::~ReplyDecoder() { redisReaderFree(reader_); }

absl::Status ReplyDecoder::Feed(std::string_view bytes) {
  if (redisReaderFeed(reader_, bytes.data(), bytes.size()) != REDIS_OK) {
    return absl::InternalError(StrCat("redis protocol error: ", reader_->errstr));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Reply>> ReplyDecoder::Next() {
  void* raw = nullptr;
  if (redisReaderGetReply(reader_, &raw) != REDIS_OK) {
    return absl::InternalError(StrCat("redis protocol error: ", reader_->errstr));
  }
  if (raw == nullptr) return std::optional<Reply>();
  auto* reply = static_cast<redisReply*>(raw);
  Reply out = Convert(reply);
  freeReplyObject(reply);
  return std::optional<Reply>(std::move(out));
}

void ReplyDecoder::Reset() {
  redisReaderFree(reader_);
  reader_ = redisReaderCreate();
  if (reader_ == nullptr) throw std::bad_alloc();
}

}  // namespace switchboard::redis
