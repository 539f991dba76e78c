// The client's address as handlers see it: request::peer() on every request of a connection
// (asked of the kernel once per connection), and address::host(), the text X-Forwarded-For
// carries.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <sys/socket.h>

#include <string>

#include "backend_param.hpp"
#include "c10k/address.hpp"
#include "c10k/http/server.hpp"
#include "http_client.hpp"
#include "test_server.hpp"

using namespace c10k;
using c10k::testing::get;
using c10k::testing::http_client;

namespace {

// The local address of a connected socket, as the server sees it from the other side.
std::string local_of(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return "getsockname failed";
  return address::from(reinterpret_cast<const sockaddr*>(&ss), len).to_string();
}

class peer_test : public c10k::testing::backend_test {};

}  // namespace

TEST(address_text, host_is_the_address_without_port_or_brackets) {
  EXPECT_EQ(address::parse("127.0.0.1", 80)->host(), "127.0.0.1");
  EXPECT_EQ(address::parse("0.0.0.0", 1)->host(), "0.0.0.0");
  EXPECT_EQ(address::parse("255.255.255.255", 1)->host(), "255.255.255.255");
  EXPECT_EQ(address::parse("10.20.3.104", 1)->host(), "10.20.3.104");
  EXPECT_EQ(address::parse("[::1]", 8080)->host(), "::1");
  EXPECT_EQ(address::parse("2001:db8::7", 1)->host(), "2001:db8::7");
  EXPECT_EQ(address().host(), "");
}

TEST(address_text, to_string_adds_the_port) {
  EXPECT_EQ(address::parse("10.20.3.104", 65535)->to_string(), "10.20.3.104:65535");
  EXPECT_EQ(address::parse("2001:db8::7", 1)->to_string(), "[2001:db8::7]:1");
  EXPECT_EQ(address::parse("0.0.0.0", 0)->to_string(), "0.0.0.0:0");
  EXPECT_EQ(address().to_string(), "(none)");
}

TEST_P(peer_test, peer_is_the_clients_address_on_every_request_of_every_connection) {
  http::router r;
  r.get("/peer", [](http::request& q) -> task<http::response> {
    auto p = q.peer();
    co_return http::response::text(200, p ? p->to_string() : "error: " + p.error().message());
  });
  auto srv = c10k::testing::start_test_server(std::move(r), backend_name());
  // Two connections in turn, three requests each: each connection's own address every time
  // (a peer kept per connection must not leak into the next one).
  for (int conn = 0; conn < 2; ++conn) {
    http_client c(srv->port());
    const std::string me = local_of(c.fd());
    for (int i = 0; i < 3; ++i) {
      auto reply = c.request(get("/peer"));
      ASSERT_TRUE(reply);
      EXPECT_EQ(reply->body, me) << "connection " << conn << ", request " << i;
    }
  }
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(peer_test);
