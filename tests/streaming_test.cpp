// Streamed responses over real sockets on every backend: chunked for HTTP/1.1, close-delimited
// for HTTP/1.0, back-pressure from a slow client, HEAD without running the producer.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

#include "backend_param.hpp"
#include "c10k/http/server.hpp"
#include "http_client.hpp"
#include "test_server.hpp"

using namespace c10k;
using namespace std::chrono_literals;
using c10k::testing::eventually;
using c10k::testing::get;
using c10k::testing::http_client;

namespace {

class streaming_test : public c10k::testing::backend_test {
 protected:
  std::atomic<std::size_t> pieces_written{0};
  std::atomic<int> producers_run{0};

  std::unique_ptr<http::server> start() {
    http::router r;
    r.get("/count", [this](http::request&) -> task<http::response> {
      http::response resp(200);
      resp.set_header("Content-Type", "text/plain");
      resp.set_stream([this](http::body_writer& w) -> task<void> {
        ++producers_run;
        for (int i = 0; i < 100; ++i)
          if (!co_await w.write("piece " + std::to_string(i) + "\n")) co_return;
      });
      co_return resp;
    });
    r.get("/flood", [this](http::request&) -> task<http::response> {
      http::response resp(200);
      resp.set_stream([this](http::body_writer& w) -> task<void> {
        const std::string piece(64 * 1024, 'f');
        for (int i = 0; i < 512; ++i) {  // 32 MiB
          if (!co_await w.write(piece)) co_return;
          ++pieces_written;
        }
      });
      co_return resp;
    });
    r.get("/plain", [](http::request&) -> task<http::response> { co_return http::response::text(200, "x"); });
    return c10k::testing::start_test_server(std::move(r), backend_name());
  }

  static std::string expected_count() {
    std::string all;
    for (int i = 0; i < 100; ++i) all += "piece " + std::to_string(i) + "\n";
    return all;
  }
};

}  // namespace

TEST_P(streaming_test, an_http_1_1_stream_is_chunked_and_the_connection_goes_on) {
  auto srv = start();
  http_client c(srv->port());
  c.send(get("/count") + get("/plain"));  // pipelined behind the stream
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("transfer-encoding"), "chunked");
  EXPECT_TRUE(r->header("content-length").empty());
  EXPECT_EQ(r->body, expected_count());
  auto next = c.read_reply();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "x");
}

TEST_P(streaming_test, an_http_1_0_stream_ends_with_the_connection) {
  auto srv = start();
  http_client c(srv->port());
  auto r = c.request("GET /count HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(r->header("transfer-encoding").empty());
  EXPECT_EQ(r->body, expected_count());
}

TEST_P(streaming_test, a_client_that_does_not_read_holds_the_producer_back) {
  auto srv = start();
  http_client c(srv->port());
  c.send(get("/flood"));
  ASSERT_TRUE(eventually([&] { return pieces_written.load() > 0; }));
  std::this_thread::sleep_for(300ms);
  // Without reading, only what fits in the socket buffers can have been written.
  const std::size_t stalled_at = pieces_written.load();
  EXPECT_LT(stalled_at, 512u / 2) << "the producer ran ahead of the client";
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(pieces_written.load(), stalled_at);
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.size(), 512u * 64 * 1024);
  EXPECT_EQ(pieces_written.load(), 512u);
}

TEST_P(streaming_test, head_gets_the_headers_without_running_the_producer) {
  auto srv = start();
  http_client c(srv->port());
  c.send("HEAD /count HTTP/1.1\r\nHost: a\r\n\r\n");
  auto r = c.read_reply(/*head_request=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("transfer-encoding"), "chunked");
  auto next = c.request(get("/plain"));
  ASSERT_TRUE(next);
  EXPECT_EQ(producers_run.load(), 0);
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(streaming_test);
