// Spawns sb-echo-c with pipes and checks what it answers.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <boost/json.hpp>
#include <csignal>
#include <string>
#include <thread>

#include "switchboard/common/strings.h"
#include "tools/sb-load/src/stdio_process.h"

namespace switchboard::load {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

constexpr milliseconds kWait{5000};

class EchoCTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::signal(SIGPIPE, SIG_IGN);
    auto process = StdioProcess::Start({SB_ECHO_C_BIN}, false);
    ASSERT_TRUE(process.ok()) << process.status();
    process_ = std::move(*process);
  }

  // Sends one line and returns the next line of output.
  std::string Exchange(std::string_view line) {
    EXPECT_TRUE(process_->Write(StrCat(line, "\n")));
    std::optional<std::string> answer = process_->ReadLine(kWait);
    EXPECT_TRUE(answer.has_value()) << "no answer to " << line;
    return answer.value_or("");
  }

  json::object ExchangeJson(std::string_view line) {
    std::string answer = Exchange(line);
    boost::system::error_code ec;
    json::value v = json::parse(answer, ec);
    EXPECT_FALSE(ec) << answer;
    EXPECT_TRUE(v.is_object()) << answer;
    return v.is_object() ? v.as_object() : json::object();
  }

  static int64_t ErrorCode(const json::object& o) {
    return o.at("error").at("code").to_number<int64_t>();
  }

  std::unique_ptr<StdioProcess> process_;
};

TEST_F(EchoCTest, InitializeEchoesAKnownVersion) {
  json::object o = ExchangeJson(
      R"({"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-03-26",)"
      R"("capabilities":{},"clientInfo":{"name":"t","version":"1"}}})");
  EXPECT_EQ(o.at("jsonrpc"), "2.0");
  EXPECT_EQ(o.at("id"), 1);
  const json::object& result = o.at("result").as_object();
  EXPECT_EQ(result.at("protocolVersion"), "2025-03-26");
  EXPECT_EQ(json::serialize(result.at("capabilities")), R"({"tools":{}})");
  EXPECT_EQ(result.at("serverInfo").at("name"), "sb-echo-c");
}

TEST_F(EchoCTest, InitializeAnswersEveryKnownVersionAndDefaultsOtherwise) {
  for (std::string_view v : {"2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25"}) {
    json::object o = ExchangeJson(
        StrCat(R"({"jsonrpc":"2.0","id":2,"method":"initialize","params":{"protocolVersion":")", v,
               R"("}})"));
    EXPECT_EQ(o.at("result").at("protocolVersion").as_string(), v);
  }
  json::object unknown = ExchangeJson(
      R"({"jsonrpc":"2.0","id":3,"method":"initialize","params":{"protocolVersion":"2099-01-01"}})");
  EXPECT_EQ(unknown.at("result").at("protocolVersion"), "2025-06-18");
  json::object missing = ExchangeJson(R"({"jsonrpc":"2.0","id":4,"method":"initialize"})");
  EXPECT_EQ(missing.at("result").at("protocolVersion"), "2025-06-18");
  // An escaped spelling of a known version is still that version.
  json::object escaped = ExchangeJson(
      R"({"jsonrpc":"2.0","id":5,"method":"initialize","params":{"protocolVersion":"2025\u002d11-25"}})");
  EXPECT_EQ(escaped.at("result").at("protocolVersion"), "2025-11-25");
}

TEST_F(EchoCTest, Ping) {
  EXPECT_EQ(Exchange(R"({"jsonrpc":"2.0","id":7,"method":"ping"})"),
            R"({"jsonrpc":"2.0","id":7,"result":{}})");
}

TEST_F(EchoCTest, ToolsListHasTheEchoTool) {
  json::object o = ExchangeJson(R"({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{}})");
  const json::array& tools = o.at("result").at("tools").as_array();
  ASSERT_EQ(tools.size(), 1u);
  EXPECT_EQ(tools[0].at("name"), "echo");
  const json::value& schema = tools[0].at("inputSchema");
  EXPECT_EQ(schema.at("type"), "object");
  EXPECT_EQ(schema.at("properties").at("message").at("type"), "string");
  EXPECT_EQ(json::serialize(schema.at("required")), R"(["message"])");
}

TEST_F(EchoCTest, EchoAnswersLikeServerEverything) {
  EXPECT_EQ(
      Exchange(R"({"jsonrpc":"2.0","id":9,"method":"tools/call",)"
               R"("params":{"name":"echo","arguments":{"message":"hello"}}})"),
      R"({"jsonrpc":"2.0","id":9,"result":{"content":[{"type":"text","text":"Echo: hello"}]}})");
}

TEST_F(EchoCTest, EchoCopiesEscapesThrough) {
  const std::string raw = R"(a \"quoted\" \\ back\/slash \n new\u00e9line \ud83d\ude00)";
  std::string answer = Exchange(StrCat(
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","arguments":{"message":")",
      raw, R"("}}})"));
  EXPECT_NE(answer.find(StrCat(R"("text":"Echo: )", raw, R"(")")), std::string::npos) << answer;
  json::value v = json::parse(answer);
  std::string decoded_in = json::value_to<std::string>(json::parse(StrCat("\"", raw, "\"")));
  EXPECT_EQ(v.at("result").at("content").at(0).at("text").as_string(),
            StrCat("Echo: ", decoded_in));
}

TEST_F(EchoCTest, MembersInAnyOrderWithWhitespace) {
  json::object o = ExchangeJson(
      R"(  { "params" : { "arguments" : { "other" : [1, {"message":"no"}], "message" : "yes" } ,)"
      R"( "name" : "echo" } , "id" : "last" , "method" : "tools/call" , "jsonrpc" : "2.0" }  )");
  EXPECT_EQ(o.at("id"), "last");
  EXPECT_EQ(o.at("result").at("content").at(0).at("text"), "Echo: yes");
}

TEST_F(EchoCTest, IdsAreCopiedByteForByte) {
  for (std::string_view id : {R"("abc")", R"("with \"quote\"")", "0", "-17", "1.50", "2e3",
                              "123456789012345678901234567890", "null"}) {
    std::string answer = Exchange(StrCat(R"({"jsonrpc":"2.0","method":"ping","id":)", id, "}"));
    EXPECT_EQ(answer, StrCat(R"({"jsonrpc":"2.0","id":)", id, R"(,"result":{}})"));
  }
}

TEST_F(EchoCTest, UnknownMethodAndUnknownTool) {
  json::object method = ExchangeJson(R"({"jsonrpc":"2.0","id":1,"method":"resources/list"})");
  EXPECT_EQ(ErrorCode(method), -32601);
  EXPECT_EQ(method.at("id"), 1);
  json::object tool = ExchangeJson(
      R"({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"nope","arguments":{}}})");
  EXPECT_EQ(ErrorCode(tool), -32602);
  EXPECT_NE(json::serialize(tool.at("error").at("message")).find("nope"), std::string::npos);
  json::object no_message = ExchangeJson(
      R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":5}}})");
  EXPECT_EQ(ErrorCode(no_message), -32602);
  json::object no_name = ExchangeJson(R"({"jsonrpc":"2.0","id":4,"method":"tools/call"})");
  EXPECT_EQ(ErrorCode(no_name), -32602);
}

TEST_F(EchoCTest, NotificationsAndResponsesAreIgnored) {
  ASSERT_TRUE(process_->Write(
      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"
      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/cancelled\",\"params\":{\"requestId\":1}}\n"
      "{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{}}\n"
      "\n   \n"));
  EXPECT_EQ(Exchange(R"({"jsonrpc":"2.0","id":"after","method":"ping"})"),
            R"({"jsonrpc":"2.0","id":"after","result":{}})");
}

TEST_F(EchoCTest, MalformedInput) {
  json::object parse = ExchangeJson(R"({"jsonrpc":"2.0","id":1,"method":)");
  EXPECT_EQ(ErrorCode(parse), -32700);
  EXPECT_TRUE(parse.at("id").is_null());
  EXPECT_EQ(ErrorCode(ExchangeJson(R"({"id":1} trailing)")), -32700);
  EXPECT_EQ(ErrorCode(ExchangeJson(R"("a string")")), -32600);
  EXPECT_EQ(ErrorCode(ExchangeJson(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])")), -32600);
  EXPECT_EQ(ErrorCode(ExchangeJson(R"({"jsonrpc":"2.0","id":1,"method":7})")), -32600);
  EXPECT_EQ(ErrorCode(ExchangeJson(R"({"jsonrpc":"2.0","id":1,"method":"ping","x":"\q"})")),
            -32700);
  // Still serving after all that.
  EXPECT_EQ(Exchange(R"({"jsonrpc":"2.0","id":2,"method":"ping"})"),
            R"({"jsonrpc":"2.0","id":2,"result":{}})");
}

TEST_F(EchoCTest, CarriageReturnLineEndings) {
  ASSERT_TRUE(process_->Write("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}\r\n"));
  EXPECT_EQ(process_->ReadLine(kWait).value_or(""), R"({"jsonrpc":"2.0","id":1,"result":{}})");
}

TEST_F(EchoCTest, ExitsAtEndOfInput) {
  ASSERT_TRUE(process_->Write("{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\"}"));
  process_->CloseStdin();
  // A last line without a newline is still answered.
  EXPECT_EQ(process_->ReadLine(kWait).value_or(""), R"({"jsonrpc":"2.0","id":1,"result":{}})");
  EXPECT_FALSE(process_->ReadLine(kWait).has_value());
  int status = process_->Wait(kWait);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
}

TEST_F(EchoCTest, OneMegabyteMessage) {
  std::string message;
  message.reserve(1 << 20);
  for (size_t i = 0; message.size() < (1 << 20); ++i) {
    message.push_back(static_cast<char>('a' + i % 26));
    if (i % 1000 == 999) message.append("\\n");
  }
  std::string request =
      StrCat(R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo",)",
             R"("arguments":{"message":")", message, R"("}}})", "\n");
  // Written from a thread: the answer is as large as the request and pipes are small.
  std::thread writer([&] { EXPECT_TRUE(process_->Write(request)); });
  std::optional<std::string> answer = process_->ReadLine(kWait);
  writer.join();
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(*answer, StrCat(R"({"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text",)",
                            R"("text":"Echo: )", message, R"("}]}})"));
}

TEST_F(EchoCTest, TenThousandPipelinedCallsAnsweredInOrder) {
  constexpr int kCalls = 10000;
  std::string all;
  for (int i = 0; i < kCalls; ++i) {
    all += StrCat(R"({"jsonrpc":"2.0","id":)", i,
                  R"(,"method":"tools/call","params":{"name":"echo","arguments":{"message":"m)", i,
                  R"("}}})", "\n");
  }
  std::thread writer([&] { EXPECT_TRUE(process_->Write(all)); });
  for (int i = 0; i < kCalls; ++i) {
    std::optional<std::string> line = process_->ReadLine(kWait);
    ASSERT_TRUE(line.has_value()) << "answer " << i << " missing";
    ASSERT_EQ(*line,
              StrCat(R"({"jsonrpc":"2.0","id":)", i,
                     R"(,"result":{"content":[{"type":"text","text":"Echo: m)", i, R"("}]}})"));
  }
  writer.join();
}

}  // namespace
}  // namespace switchboard::load
