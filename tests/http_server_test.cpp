#include <gtest/gtest.h>
#include <sys/resource.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "backend_param.hpp"
#include "c10k/http/server.hpp"
#include "c10k/time.hpp"
#include "http_client.hpp"
#include "test_server.hpp"

using namespace c10k;
using namespace std::chrono_literals;
using c10k::testing::eventually;
using c10k::testing::get;
using c10k::testing::http_client;

namespace {

class http_server_test : public c10k::testing::backend_test {
 protected:
  std::atomic<int> slow_started{0};

  http::router routes() {
    http::router r;
    r.get("/", [](http::request&) -> task<http::response> { co_return http::response::text(200, "Hello from c10k\n"); });
    r.get("/plain", [](http::request&) -> task<http::response> { co_return http::response::text(200, "x"); });
    r.get("/users/{id}", [](http::request& q) -> task<http::response> {
      co_return http::response::text(200, std::string(q.param("id")));
    });
    r.post("/echo", [](http::request& q) -> task<http::response> { co_return http::response::text(200, std::string(q.body())); });
    r.get("/throw", [](http::request&) -> task<http::response> {
      throw std::runtime_error("handler bug");
      co_return http::response(200);
    });
    r.get("/slow", [this](http::request&) -> task<http::response> {
      ++slow_started;
      co_await sleep_for(200ms);
      co_return http::response::text(200, "slow done");
    });
    r.get("/big", [](http::request&) -> task<http::response> { co_return http::response::text(200, std::string(1 << 20, 'b')); });
    return r;
  }

  std::unique_ptr<http::server> start(unsigned threads = 1) {
    return c10k::testing::start_test_server(routes(), backend_name(), {.threads = threads});
  }
};

}  // namespace

TEST_P(http_server_test, serves_each_route_with_the_right_status_and_body) {
  auto srv = start();
  http_client c(srv->port());
  auto r = c.request(get("/"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "Hello from c10k\n");
  EXPECT_FALSE(r->header("date").empty());
  EXPECT_EQ(r->header("content-length"), "16");

  r = c.request(get("/users/42"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "42");

  r = c.request(get("/nope"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);

  r = c.request("DELETE /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 405);
  EXPECT_EQ(r->header("allow"), "GET, HEAD");

  r = c.request("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello world");
}

TEST_P(http_server_test, head_gets_the_headers_of_get_without_the_body) {
  auto srv = start();
  http_client c(srv->port());
  c.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.read_reply(/*head_request=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-length"), "16");
  auto next = c.request(get("/plain"));  // no stray body bytes in between
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "x");
}

TEST_P(http_server_test, decodes_a_chunked_request_body) {
  auto srv = start();
  http_client c(srv->port());
  auto r = c.request("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello world");
}

TEST_P(http_server_test, a_body_sent_in_pieces_is_assembled) {
  auto srv = start();
  http_client c(srv->port());
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 300000\r\n\r\n");
  const std::string body(300000, 'q');
  for (std::size_t i = 0; i < body.size(); i += 50000) c.send(body.substr(i, 50000));
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body.size(), body.size());
  EXPECT_TRUE(r->body == body);
}

TEST_P(http_server_test, a_thousand_keep_alive_requests_share_one_connection) {
  auto srv = start();
  http_client c(srv->port());
  for (int i = 0; i < 1000; ++i) {
    auto r = c.request(get("/users/" + std::to_string(i)));
    ASSERT_TRUE(r) << "request " << i;
    ASSERT_EQ(r->body, std::to_string(i));
  }
  EXPECT_EQ(srv->connection_count(), 1u);
}

TEST_P(http_server_test, sixteen_pipelined_requests_in_one_write_are_answered_in_order) {
  auto srv = start();
  http_client c(srv->port());
  std::string all;
  for (int i = 0; i < 16; ++i) all += get("/users/" + std::to_string(i));
  c.send(all);
  for (int i = 0; i < 16; ++i) {
    auto r = c.read_reply();
    ASSERT_TRUE(r) << "response " << i;
    EXPECT_EQ(r->body, std::to_string(i));
  }
}

TEST_P(http_server_test, large_responses_pipelined_with_small_ones_keep_their_order) {
  auto srv = start();
  http_client c(srv->port());
  c.send(get("/plain") + get("/big") + get("/plain"));
  auto a = c.read_reply(), b = c.read_reply(), d = c.read_reply();
  ASSERT_TRUE(a && b && d);
  EXPECT_EQ(a->body, "x");
  EXPECT_EQ(b->body.size(), 1u << 20);
  EXPECT_EQ(d->body, "x");
}

TEST_P(http_server_test, two_hundred_concurrent_connections_are_all_served) {
  auto srv = start(2);
  std::vector<http_client> clients;
  for (int i = 0; i < 200; ++i) clients.emplace_back(srv->port());
  for (int i = 0; i < 200; ++i) clients[i].send(get("/users/" + std::to_string(i)));
  for (int i = 0; i < 200; ++i) {
    auto r = clients[i].read_reply();
    ASSERT_TRUE(r) << "client " << i;
    EXPECT_EQ(r->body, std::to_string(i));
  }
  EXPECT_EQ(srv->connection_count(), 200u);
}

TEST_P(http_server_test, a_client_that_disconnects_mid_request_costs_nothing) {
  auto srv = start();
  {
    http_client c(srv->port());
    c.send("GET /plain HTTP/1.1\r\nHost: x\r\nX-Half: ");
    ASSERT_TRUE(eventually([&] { return srv->connection_count() == 1; }));
  }
  EXPECT_TRUE(eventually([&] { return srv->connection_count() == 0; }));
  http_client next(srv->port());
  auto r = next.request(get("/plain"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "x");
}

TEST_P(http_server_test, a_handler_exception_becomes_500_and_the_connection_survives) {
  auto srv = start();
  http_client c(srv->port());
  auto r = c.request(get("/throw"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  r = c.request(get("/plain"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_P(http_server_test, http_1_0_closes_unless_asked_to_keep_alive) {
  auto srv = start();
  {
    http_client c(srv->port());
    auto r = c.request("GET /plain HTTP/1.0\r\n\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c.closed_by_server());
  }
  http_client c(srv->port());
  auto r = c.request("GET /plain HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "keep-alive");
  r = c.request("GET /plain HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "x");
}

TEST_P(http_server_test, connection_close_is_honoured) {
  auto srv = start();
  http_client c(srv->port());
  auto r = c.request(get("/plain", "Connection: close\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_by_server());
}

TEST_P(http_server_test, a_malformed_request_gets_400_and_later_bytes_are_not_parsed) {
  auto srv = start();
  http_client c(srv->port());
  auto r = c.request("GET /plain HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n" + get("/plain"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.closed_by_server());
}

TEST_P(http_server_test, graceful_stop_finishes_the_request_in_flight_and_closes_idle_connections) {
  auto srv = start();
  http_client idle(srv->port());
  ASSERT_TRUE(idle.request(get("/plain")));  // now idle in keep-alive
  http_client busy(srv->port());
  busy.send(get("/slow"));
  ASSERT_TRUE(eventually([&] { return slow_started.load() == 1; }));
  srv->stop();
  auto r = busy.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "slow done");
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(idle.closed_by_server());
  srv->wait();  // returns: every loop ended
  EXPECT_EQ(srv->connection_count(), 0u);
}

TEST_P(http_server_test, a_thousand_idle_keep_alive_connections_hold_no_receive_buffer) {
  if (backend_name() == "select") GTEST_SKIP() << "select cannot watch fds at or above FD_SETSIZE (1024)";
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_max < 2100) GTEST_SKIP() << "the fd limit (" << lim.rlim_max << ") is too low for 1,000 connections";
  const rlimit saved = lim;
  lim.rlim_cur = std::min<rlim_t>(lim.rlim_max, 4096);
  ::setrlimit(RLIMIT_NOFILE, &lim);
  {
    auto srv = start();
    std::vector<http_client> clients;
    clients.reserve(1000);
    for (int i = 0; i < 1000; ++i) {
      clients.emplace_back(srv->port());
      auto r = clients.back().request(get("/plain"));
      ASSERT_TRUE(r) << "client " << i;
    }
    ASSERT_TRUE(eventually([&] { return srv->stats().connections == 1000; }));
    const auto s = srv->stats();
    EXPECT_EQ(s.buffers_in_use, 0u);
    EXPECT_EQ(s.requests, 1000u);
  }
  ::setrlimit(RLIMIT_NOFILE, &saved);
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(http_server_test);

TEST(http_server, asked_for_io_uring_where_it_is_refused_it_serves_on_epoll) {
  ::setenv("C10K_IO_URING_SETUP_ERROR", "EPERM", 1);
  http::router r;
  r.get("/plain", [](http::request&) -> task<http::response> { co_return http::response::text(200, "x"); });
  http::server srv(std::move(r), {.host = "127.0.0.1", .port = 0, .threads = 1, .backend = "io_uring"});
  auto started = srv.start();
  ::unsetenv("C10K_IO_URING_SETUP_ERROR");
  ASSERT_TRUE(started);
  EXPECT_EQ(srv.backend_name(), "epoll");
  http_client c(srv.port());
  auto reply = c.request(get("/plain"));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->body, "x");
}

TEST(http_server, a_port_in_use_is_reported_by_start) {
  http::router r;
  http::server first(r, {.host = "127.0.0.1", .port = 0, .threads = 1});
  ASSERT_TRUE(first.start());
  http::server second(r, {.host = "127.0.0.1", .port = first.port(), .threads = 1});
  EXPECT_EQ(second.start().error(), std::errc::address_in_use);
}

TEST(http_server, an_unknown_backend_is_reported_by_start) {
  http::server s(http::router{}, {.host = "127.0.0.1", .port = 0, .threads = 1, .backend = "kqueue"});
  EXPECT_EQ(s.start().error(), std::errc::invalid_argument);
}
