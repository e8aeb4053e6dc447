// HttpGet against small servers on 127.0.0.1 run by the test: answers, failures and a server
// that never answers, each ending with the body or a clear error, never a hang.
#include "services/auth/src/http_get.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace switchboard::auth {
namespace {

// Accepts connections on a loopback port and answers each with `reply` (after reading the
// request head), or with nothing at all when `reply` is empty, until destroyed.
class CannedServer {
 public:
  explicit CannedServer(std::string reply) : reply_(std::move(reply)) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    listen(fd_, 8);
    thread_ = std::thread([this] { Serve(); });
  }
  ~CannedServer() {
    stopping_ = true;
    shutdown(fd_, SHUT_RDWR);
    close(fd_);
    thread_.join();
    for (int conn : silent_) close(conn);
  }
  std::string Url(const std::string& path = "/jwks") const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int port() const { return port_; }

 private:
  void Serve() {
    for (int served = 0; served < 16 && !stopping_; ++served) {
      int conn = accept(fd_, nullptr, nullptr);
      if (conn < 0) return;
      std::string head;
      char buf[1024];
      while (head.find("\r\n\r\n") == std::string::npos && head.size() < 65536) {
        ssize_t n = read(conn, buf, sizeof(buf));
        if (n <= 0) break;
        head.append(buf, static_cast<size_t>(n));
      }
      if (!reply_.empty()) {
        (void)!write(conn, reply_.data(), reply_.size());
        close(conn);
      } else {
        silent_.push_back(conn);  // held open, unanswered, until the server goes
      }
    }
  }

  std::string reply_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::vector<int> silent_;
  std::thread thread_;
};

std::string Reply(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Type: application/json\r\n" +
         "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

TEST(HttpGetTest, ReturnsTheBodyOfA200) {
  CannedServer server(Reply(200, R"({"keys":[]})"));
  absl::StatusOr<std::string> body = HttpGet(server.Url(), {});
  ASSERT_TRUE(body.ok()) << body.status();
  EXPECT_EQ(*body, R"({"keys":[]})");
}

TEST(HttpGetTest, OtherStatusesAndRedirectsAreErrorsWithoutTheirBody) {
  CannedServer missing(Reply(404, "secret page"));
  absl::StatusOr<std::string> body = HttpGet(missing.Url(), {});
  ASSERT_FALSE(body.ok());
  EXPECT_NE(body.status().message().find("HTTP status 404"), std::string::npos) << body.status();
  EXPECT_EQ(body.status().message().find("secret page"), std::string::npos);
  CannedServer moved("HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n");
  EXPECT_FALSE(HttpGet(moved.Url(), {}).ok());
}

TEST(HttpGetTest, ABodyOverTheLimitIsRefused) {
  CannedServer big(Reply(200, std::string(4096, 'x')));
  HttpGetOptions options;
  options.max_body_bytes = 1024;
  EXPECT_FALSE(HttpGet(big.Url(), options).ok());
}

TEST(HttpGetTest, ASilentServerEndsAtTheDeadline) {
  CannedServer silent("");
  HttpGetOptions options;
  options.timeout = std::chrono::milliseconds(300);
  absl::StatusOr<std::string> body = HttpGet(silent.Url(), options);
  ASSERT_FALSE(body.ok());
  EXPECT_TRUE(body.status().code() == absl::StatusCode::kDeadlineExceeded ||
              body.status().code() == absl::StatusCode::kUnavailable)
      << body.status();
}

TEST(HttpGetTest, BadUrlsAndPlainServersBehindHttpsAreErrors) {
  EXPECT_EQ(HttpGet("ftp://127.0.0.1/jwks", {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HttpGet("not a url", {}).status().code(), absl::StatusCode::kInvalidArgument);
  CannedServer plain(Reply(200, "{}"));
  HttpGetOptions options;
  options.timeout = std::chrono::milliseconds(500);
  absl::StatusOr<std::string> tls =
      HttpGet("https://127.0.0.1:" + std::to_string(plain.port()) + "/jwks", options);
  EXPECT_FALSE(tls.ok());
}

}  // namespace
}  // namespace switchboard::auth
