#include "switchboard/telemetry/metrics.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include "switchboard/common/status.h"

namespace switchboard::telemetry {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

std::string Get(int port, const std::string& target) {
  asio::io_context context;
  asio::ip::tcp::socket socket(context);
  socket.connect({asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  http::request<http::empty_body> request{http::verb::get, target, 11};
  request.set(http::field::host, "127.0.0.1");
  http::write(socket, request);
  beast::flat_buffer buffer;
  http::response<http::string_body> response;
  http::read(socket, buffer, response);
  return std::to_string(response.result_int()) + "\n" + response.body();
}

TEST(MetricsTest, SerializesRegisteredFamiliesAfterTheScrapeHooks) {
  auto& family = prometheus::BuildCounter()
                     .Name("sb_test_things_total")
                     .Help("Things")
                     .Register(MetricsRegistry());
  family.Add({{"kind", "a"}}).Increment(3);
  auto& gauge =
      prometheus::BuildGauge().Name("sb_test_depth").Help("Depth").Register(MetricsRegistry());
  auto refreshed = std::make_shared<int>(0);
  OnScrape([&gauge, refreshed] { gauge.Add({}).Set(++*refreshed); });
  std::string text = SerializeMetrics();
  EXPECT_NE(text.find("sb_test_things_total{kind=\"a\"} 3"), std::string::npos) << text;
  EXPECT_NE(text.find("sb_test_depth 1"), std::string::npos) << text;
  EXPECT_NE(SerializeMetrics().find("sb_test_depth 2"), std::string::npos);
}

TEST(MetricsTest, ServesMetricsOnItsOwnPort) {
  auto server = MetricsServer::Start("127.0.0.1:0");
  ASSERT_TRUE(server.ok()) << server.status();
  ASSERT_GT((*server)->port(), 0);
  prometheus::BuildCounter()
      .Name("sb_test_served_total")
      .Help("x")
      .Register(MetricsRegistry())
      .Add({})
      .Increment();
  std::string answer = Get((*server)->port(), "/metrics");
  EXPECT_EQ(answer.substr(0, 4), "200\n");
  EXPECT_NE(answer.find("sb_test_served_total 1"), std::string::npos) << answer;

  auto taken = MetricsServer::Start("127.0.0.1:" + std::to_string((*server)->port()));
  EXPECT_FALSE(taken.ok());
  EXPECT_NE(std::string(MessageOf(taken.status())).find("cannot serve metrics"), std::string::npos);
}

}  // namespace
}  // namespace switchboard::telemetry
