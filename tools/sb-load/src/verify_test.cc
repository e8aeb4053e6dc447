#include "tools/sb-load/src/verify.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "switchboard/common/strings.h"

namespace switchboard::load {
namespace {

using ::testing::HasSubstr;

Request Call(uint64_t id, std::string message) {
  return MakeRequest(RequestKind::kCall, id, "everything__echo", std::move(message));
}

std::string EchoAnswer(uint64_t id, std::string_view text) {
  return StrCat(R"({"jsonrpc":"2.0","id":)", id, R"(,"result":{"content":[{"type":"text","text":")",
                text, R"("}]}})");
}

TEST(VerifyTest, RequestsAreWellFormed) {
  Request call = Call(7, "say \"hi\"");
  EXPECT_EQ(call.body,
            R"({"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"everything__echo",)"
            R"("arguments":{"message":"say \"hi\""}}})");
  EXPECT_EQ(MakeRequest(RequestKind::kList, 8, "t", "").body,
            R"({"jsonrpc":"2.0","id":8,"method":"tools/list","params":{}})");
  EXPECT_EQ(MakeRequest(RequestKind::kPing, 9, "t", "").body,
            R"({"jsonrpc":"2.0","id":9,"method":"ping"})");
  EXPECT_THAT(InitializeBody(0, "2025-06-18"), HasSubstr(R"("protocolVersion":"2025-06-18")"));
  EXPECT_EQ(InitializedBody(), R"({"jsonrpc":"2.0","method":"notifications/initialized"})");
}

TEST(VerifyTest, MatchingEcho) {
  EXPECT_EQ(VerifyMessage(Call(3, "abc"), EchoAnswer(3, "Echo: abc")), std::nullopt);
  // Escapes in the answer are decoded before comparing.
  EXPECT_EQ(VerifyMessage(Call(3, "a/\"b"), EchoAnswer(3, R"(Echo: a\/\"b)")), std::nullopt);
}

TEST(VerifyTest, EchoMismatches) {
  std::optional<Failure> text = VerifyMessage(Call(3, "abc"), EchoAnswer(3, "Echo: abd"));
  ASSERT_TRUE(text);
  EXPECT_EQ(FailureKey(*text), "mismatch");
  EXPECT_THAT(text->detail, HasSubstr("Echo: abd"));

  std::optional<Failure> id = VerifyMessage(Call(3, "abc"), EchoAnswer(4, "Echo: abc"));
  ASSERT_TRUE(id);
  EXPECT_EQ(id->kind, FailureKind::kMismatch);
  EXPECT_THAT(id->detail, HasSubstr("id 4"));

  std::optional<Failure> string_id =
      VerifyMessage(Call(3, "abc"), R"({"jsonrpc":"2.0","id":"3","result":{"content":[]}})");
  ASSERT_TRUE(string_id);
  EXPECT_EQ(string_id->kind, FailureKind::kMismatch);

  EXPECT_TRUE(VerifyMessage(Call(3, "abc"), R"({"jsonrpc":"2.0","id":3,"result":{}})"));
  EXPECT_TRUE(VerifyMessage(Call(3, "abc"),
                            R"({"jsonrpc":"2.0","id":3,"result":{"content":[{"type":"image"}]}})"));
  EXPECT_TRUE(VerifyMessage(
      Call(3, "abc"),
      R"({"jsonrpc":"2.0","id":3,"result":{"isError":true,"content":[{"type":"text","text":"Echo: abc"}]}})"));
  EXPECT_TRUE(VerifyMessage(Call(3, "abc"), "not json"));
  EXPECT_TRUE(VerifyMessage(Call(3, "abc"), R"({"jsonrpc":"2.0","method":"notifications/x"})"));
}

TEST(VerifyTest, JsonRpcErrorsCarryTheirCode) {
  std::optional<Failure> f = VerifyMessage(
      Call(5, "x"), R"({"jsonrpc":"2.0","id":5,"error":{"code":-32602,"message":"Unknown tool"}})");
  ASSERT_TRUE(f);
  EXPECT_EQ(f->kind, FailureKind::kJsonRpc);
  EXPECT_EQ(f->code, -32602);
  EXPECT_EQ(FailureKey(*f), "jsonrpc error -32602");
}

TEST(VerifyTest, ListAndPing) {
  Request list = MakeRequest(RequestKind::kList, 1, "", "");
  EXPECT_EQ(VerifyMessage(list, R"({"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"a"}]}})"),
            std::nullopt);
  EXPECT_TRUE(VerifyMessage(list, R"({"jsonrpc":"2.0","id":1,"result":{"tools":[]}})"));
  EXPECT_TRUE(VerifyMessage(list, R"({"jsonrpc":"2.0","id":1,"result":{}})"));
  Request ping = MakeRequest(RequestKind::kPing, 2, "", "");
  EXPECT_EQ(VerifyMessage(ping, R"({"jsonrpc":"2.0","id":2,"result":{}})"), std::nullopt);
  EXPECT_TRUE(VerifyMessage(ping, R"({"jsonrpc":"2.0","id":2,"result":[]})"));
}

TEST(VerifyTest, FinalSseResponseSkipsNotificationsAndComments) {
  std::string body =
      ": keep-alive\n\n"
      "event: message\nid: 1\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\","
      "\"params\":{\"progressToken\":1,\"progress\":1}}\n\n"
      "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":9,\r\ndata: \"result\":{}}\r\n\r\n"
      ": bye\n\n";
  std::optional<std::string> response = FinalSseResponse(body);
  ASSERT_TRUE(response);
  EXPECT_EQ(*response, "{\"jsonrpc\":\"2.0\",\"id\":9,\n\"result\":{}}");
  EXPECT_EQ(FinalSseResponse("data: {\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n\n"), std::nullopt);
  EXPECT_EQ(FinalSseResponse(""), std::nullopt);
  // A last event not closed by a blank line still counts.
  EXPECT_EQ(FinalSseResponse("data:{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}"),
            "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}");
}

TEST(VerifyTest, HttpAnswers) {
  Request call = Call(2, "m");
  EXPECT_EQ(VerifyHttp(call, 200, "application/json", EchoAnswer(2, "Echo: m")), std::nullopt);
  EXPECT_EQ(VerifyHttp(call, 200, "Application/JSON; charset=utf-8", EchoAnswer(2, "Echo: m")),
            std::nullopt);
  EXPECT_EQ(VerifyHttp(call, 200, "text/event-stream",
                       StrCat("event: message\ndata: ", EchoAnswer(2, "Echo: m"), "\n\n")),
            std::nullopt);

  std::optional<Failure> status = VerifyHttp(call, 503, "application/json", "{}");
  ASSERT_TRUE(status);
  EXPECT_EQ(FailureKey(*status), "http status 503");

  std::optional<Failure> type = VerifyHttp(call, 200, "text/html", "<p>");
  ASSERT_TRUE(type);
  EXPECT_EQ(type->kind, FailureKind::kMismatch);

  std::optional<Failure> empty_stream = VerifyHttp(call, 200, "text/event-stream", ": x\n\n");
  ASSERT_TRUE(empty_stream);
  EXPECT_EQ(empty_stream->kind, FailureKind::kMismatch);
}

TEST(VerifyTest, Initialize) {
  std::string version;
  EXPECT_EQ(
      VerifyInitializeMessage(
          0, R"({"jsonrpc":"2.0","id":0,"result":{"protocolVersion":"2025-03-26"}})", &version),
      std::nullopt);
  EXPECT_EQ(version, "2025-03-26");
  EXPECT_TRUE(VerifyInitializeMessage(0, R"({"jsonrpc":"2.0","id":0,"result":{}})", &version));
  std::optional<Failure> error = VerifyHttpInitialize(
      0, 200, "application/json",
      R"({"jsonrpc":"2.0","id":0,"error":{"code":-32600,"message":"no"}})", &version);
  ASSERT_TRUE(error);
  EXPECT_EQ(FailureKey(*error), "jsonrpc error -32600");
  std::optional<Failure> unauthorized =
      VerifyHttpInitialize(0, 401, "application/json", "{}", &version);
  ASSERT_TRUE(unauthorized);
  EXPECT_EQ(FailureKey(*unauthorized), "http status 401");
}

TEST(VerifyTest, FailureKeys) {
  EXPECT_EQ(FailureKey({FailureKind::kConnect, 0, ""}), "connect");
  EXPECT_EQ(FailureKey({FailureKind::kTimeout, 0, ""}), "timeout");
  EXPECT_EQ(FailureKey({FailureKind::kIo, 0, ""}), "io");
  EXPECT_EQ(FailureKey({FailureKind::kHttpStatus, 429, ""}), "http status 429");
}

}  // namespace
}  // namespace switchboard::load
