// Request bodies read as a stream by the handler (route_options::stream_body), over real
// sockets on every backend.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "backend_param.hpp"
#include "c10k/http/server.hpp"
#include "http_client.hpp"
#include "test_server.hpp"

using namespace c10k;
using namespace std::chrono_literals;
using c10k::testing::get;
using c10k::testing::http_client;

namespace {

class upload_test : public c10k::testing::backend_test {
 protected:
  std::unique_ptr<http::server> start() {
    http::router r;
    // Sums the body as it streams in; never holds more than one piece.
    r.post("/upload", [](http::request& q) -> task<http::response> {
      std::size_t bytes = 0, largest = 0;
      unsigned long sum = 0;
      for (;;) {
        auto piece = co_await q.body_stream().read();
        if (!piece) co_return http::response::text(400, "read failed: " + piece.error().message());
        if (piece->empty()) break;
        bytes += piece->size();
        largest = std::max(largest, piece->size());
        for (unsigned char c : *piece) sum += c;
      }
      co_return http::response::text(200, "bytes=" + std::to_string(bytes) + " sum=" + std::to_string(sum) +
                                              " largest=" + std::to_string(largest));
    }, {.stream_body = true});
    r.post("/ignore", [](http::request&) -> task<http::response> { co_return http::response::text(200, "ignored"); },
           {.stream_body = true});
    r.get("/plain", [](http::request&) -> task<http::response> { co_return http::response::text(200, "x"); });
    return c10k::testing::start_test_server(std::move(r), backend_name());
  }
  static std::string expected(const std::string& body, std::size_t largest_at_most) {
    unsigned long sum = 0;
    for (unsigned char c : body) sum += c;
    return "bytes=" + std::to_string(body.size()) + " sum=" + std::to_string(sum) + " largest<=" + std::to_string(largest_at_most);
  }
  // Turns "bytes=.. sum=.. largest=N" into the form expected() gives, checking N.
  static std::string summary(const std::string& reply, std::size_t largest_at_most) {
    const auto at = reply.find(" largest=");
    const std::size_t largest = std::stoul(reply.substr(at + 9));
    return reply.substr(0, at) + (largest <= largest_at_most ? " largest<=" + std::to_string(largest_at_most) : " largest=" + std::to_string(largest));
  }
};


}  // namespace

TEST_P(upload_test, a_large_body_streams_through_the_handler_in_pieces) {
  auto srv = start();
  http_client c(srv->port());
  const std::string body = c10k::testing::pattern_bytes(6 << 20);  // 6 MiB: never held whole by the server
  c.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n");
  for (std::size_t i = 0; i < body.size(); i += 256 * 1024) c.send(body.substr(i, 256 * 1024));
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(summary(r->body, 64 * 1024), expected(body, 64 * 1024));
}

TEST_P(upload_test, a_chunked_body_streams_and_the_next_pipelined_request_is_answered) {
  auto srv = start();
  http_client c(srv->port());
  c.send("POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" + get("/plain"));
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(summary(r->body, 11), expected("hello world", 11));
  auto next = c.read_reply();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "x");
}

TEST_P(upload_test, a_body_the_handler_does_not_read_is_drained_and_the_connection_goes_on) {
  auto srv = start();
  http_client c(srv->port());
  c.send("POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n" + std::string(100000, 'i') + get("/plain"));
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "ignored");
  auto next = c.read_reply();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "x");
}

TEST_P(upload_test, continue_is_sent_only_when_the_handler_reads_the_body) {
  auto srv = start();
  {
    http_client c(srv->port());
    c.send("POST /upload HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
    auto go = c.read_reply();
    ASSERT_TRUE(go);
    EXPECT_EQ(go->status, 100);
    c.send("abcde");
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(summary(r->body, 5), expected("abcde", 5));
  }
  http_client c(srv->port());
  c.send("POST /ignore HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  auto r = c.read_reply();  // the final answer, with no 100 before it
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ignored");
  EXPECT_EQ(r->header("connection"), "close");  // the body never came: the connection ends
  EXPECT_TRUE(c.closed_by_server());
}

TEST_P(upload_test, a_body_over_the_limit_is_refused_before_the_handler_runs) {
  auto srv = start();
  http_client c(srv->port());
  auto r = c.request("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999999\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(upload_test);
