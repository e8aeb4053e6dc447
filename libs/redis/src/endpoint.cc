#include "switchboard/redis/endpoint.h"

#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>

#include "switchboard/common/strings.h"
#include "switchboard/redis/resp.h"

namespace switchboard::redis {

std::string RedisEndpoint::Describe() const {
  bool ipv6 = host.find(':') != std::string::npos;
  return StrCat(ipv6 ? "[" : "", host, ipv6 ? "]" : "", ":", port, "/", db);
}

std::string HandshakeCommands(const RedisEndpoint& endpoint, size_t* replies) {
  std::string hello;
  *replies = 0;
  if (!endpoint.password.empty()) {
    if (endpoint.username.empty()) {
      AppendCommand({"AUTH", endpoint.password}, &hello);
    } else {
      AppendCommand({"AUTH", endpoint.username, endpoint.password}, &hello);
    }
    ++*replies;
  }
  if (endpoint.db != 0) {
    AppendCommand({"SELECT", std::to_string(endpoint.db)}, &hello);
    ++*replies;
  }
  return hello;
}

absl::StatusOr<RedisEndpoint> ParseRedisUrl(std::string_view url) {
  auto parsed = boost::urls::parse_uri(boost::core::string_view(url.data(), url.size()));
  if (!parsed) {
    return absl::InvalidArgumentError("not a URL of the form redis://[:password@]host[:port][/db]");
  }
  const boost::urls::url_view& u = *parsed;
  if (u.scheme() != "redis") {
    if (u.scheme() == "rediss") {
      return absl::InvalidArgumentError("rediss:// (TLS) is not supported; use redis://");
    }
    return absl::InvalidArgumentError("the scheme must be redis://");
  }
  if (u.has_query() || u.has_fragment()) {
    return absl::InvalidArgumentError("a redis URL takes no query or fragment");
  }
  RedisEndpoint ep;
  if (u.host_type() == boost::urls::host_type::ipv6) {
    ep.host = u.host_ipv6_address().to_string();
  } else if (u.host_type() == boost::urls::host_type::name ||
             u.host_type() == boost::urls::host_type::ipv4) {
    ep.host = u.host_address();
  } else {
    return absl::InvalidArgumentError("a redis URL needs a host");
  }
  if (ep.host.empty()) return absl::InvalidArgumentError("a redis URL needs a host");
  if (u.has_port()) {
    std::string_view port = u.port();
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || value == 0 ||
        value > 65535) {
      return absl::InvalidArgumentError("the port must be a number from 1 to 65535");
    }
    ep.port = static_cast<uint16_t>(value);
  }
  if (u.has_userinfo()) {
    ep.username = u.user();
    if (u.has_password()) ep.password = u.password();
    if (!ep.username.empty() && ep.password.empty()) {
      return absl::InvalidArgumentError("a redis URL with a user name needs a password");
    }
  }
  std::string_view path = u.encoded_path();
  if (!path.empty() && path != "/") {
    std::string_view db = path.substr(1);
    int value = 0;
    auto [ptr, ec] = std::from_chars(db.data(), db.data() + db.size(), value);
    if (path.front() != '/' || ec != std::errc() || ptr != db.data() + db.size() || value < 0 ||
        value > 1000000) {
      return absl::InvalidArgumentError("the path must be a database number, as in redis://host/2");
    }
    ep.db = value;
  }
  return ep;
}

}  // namespace switchboard::redis
