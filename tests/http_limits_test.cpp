// Limits, timeouts and strict framing, over real sockets on every backend: each case checks
// the status code and whether the connection is closed or still serving.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <mutex>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "backend_param.hpp"
#include "c10k/http/server.hpp"
#include "c10k/log.hpp"
#include "http_client.hpp"
#include "test_server.hpp"

using namespace c10k;
using namespace std::chrono_literals;
using c10k::testing::eventually;
using c10k::testing::get;
using c10k::testing::http_client;

namespace {

class http_limits_test : public c10k::testing::backend_test {
 protected:
  std::unique_ptr<http::server> start(http::server_options o) {
    http::router r;
    r.get("/plain", [](http::request&) -> task<http::response> { co_return http::response::text(200, "x"); });
    r.post("/echo", [](http::request& q) -> task<http::response> { co_return http::response::text(200, std::string(q.body())); });
    r.get("/big", [](http::request&) -> task<http::response> { co_return http::response::text(200, std::string(1 << 20, 'b')); });
    return c10k::testing::start_test_server(std::move(r), backend_name(), std::move(o));
  }
  std::unique_ptr<http::server> start() { return start(http::server_options{}); }

  // Sends raw bytes on a new connection; returns the reply and whether the server then closed.
  struct outcome {
    int status = 0;
    bool closed = false;
  };
  outcome send_raw(http::server& srv, const std::string& bytes) {
    http_client c(srv.port());
    auto r = c.request(bytes);
    outcome o;
    if (r) o.status = r->status;
    o.closed = c.closed_by_server();
    return o;
  }
};

}  // namespace

TEST_P(http_limits_test, framing_violations_get_their_status_and_close) {
  auto srv = start();
  struct rule {
    std::string name, bytes;
    int status;
  };
  const std::vector<rule> rules = {
      {"two Host fields", "GET /plain HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"no Host in 1.1", "GET /plain HTTP/1.1\r\n\r\n", 400},
      {"Content-Length and chunked", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"differing Content-Lengths", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
      {"an unknown transfer coding", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", 501},
      {"Transfer-Encoding in 1.0", "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"space before the colon", "GET /plain HTTP/1.1\r\nHost : a\r\n\r\n", 400},
      {"obs-fold", "GET /plain HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n", 400},
      {"HTTP/2.0", "GET /plain HTTP/2.0\r\nHost: a\r\n\r\n", 505},
      {"a malformed version", "GET /plain HTTP/1.01\r\nHost: a\r\n\r\n", 400},
      {"a bad chunk size", "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", 400},
      {"an expectation other than 100-continue", "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: teapot\r\nContent-Length: 1\r\n\r\nx", 417},
      {"a target over the limit", "GET /" + std::string(9000, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
      {"a header block over the limit", "GET /plain HTTP/1.1\r\nHost: a\r\nX: " + std::string(70000, 'h') + "\r\n\r\n", 431},
      {"a body over the limit", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999\r\n\r\n", 413},
  };
  for (const rule& r : rules) {
    auto o = send_raw(*srv, r.bytes);
    EXPECT_EQ(o.status, r.status) << r.name;
    EXPECT_TRUE(o.closed) << r.name << ": the connection should be closed";
  }
  // And the server is still fine.
  EXPECT_EQ(send_raw(*srv, get("/plain", "Connection: close\r\n")).status, 200);
}

TEST_P(http_limits_test, bytes_after_a_refused_request_are_never_answered) {
  auto srv = start();
  http_client c(srv->port());
  c.send("GET /plain HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + get("/plain"));
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_TRUE(c.closed_by_server());
}

TEST_P(http_limits_test, a_head_that_keeps_trickling_is_cut_at_the_header_deadline) {
  auto srv = start({.header_timeout = 300ms});
  http_client c(srv->port());
  const std::string head = "GET /plain HTTP/1.1\r\nHost: a\r\nX-Slow: ";
  const auto started = std::chrono::steady_clock::now();
  c.send(head);
  // Progress does not extend the deadline: keep sending a byte every 50 ms.
  int sent = 0;
  while (srv->connection_count() > 0 && sent < 100) {
    std::this_thread::sleep_for(50ms);
    try {
      c.send("a");
    } catch (const std::exception&) {
      break;  // the server is gone
    }
    ++sent;
  }
  EXPECT_TRUE(eventually([&] { return srv->connection_count() == 0; }));
  EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
}

TEST_P(http_limits_test, a_connection_that_never_sends_is_closed_after_the_header_timeout) {
  auto srv = start({.header_timeout = 200ms});
  http_client c(srv->port());
  EXPECT_TRUE(c.closed_by_server());  // blocks until the server closes (10 s receive timeout)
}

TEST_P(http_limits_test, an_idle_keep_alive_connection_is_closed_after_the_keepalive_timeout) {
  auto srv = start({.keepalive_timeout = 200ms});
  http_client c(srv->port());
  auto r = c.request(get("/plain"));
  ASSERT_TRUE(r);
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(c.closed_by_server());
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);
}

TEST_P(http_limits_test, a_stalled_body_gets_408_after_the_body_timeout) {
  auto srv = start({.body_timeout = 200ms});
  http_client c(srv->port());
  c.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n0123456789");
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
  EXPECT_TRUE(c.closed_by_server());
}

TEST_P(http_limits_test, a_body_below_the_minimum_rate_gets_408) {
  auto srv = start({.body_timeout = 200ms, .min_body_bytes_per_second = 100'000});
  http_client c(srv->port());
  c.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1000\r\n\r\n");
  // A byte every 20 ms never goes silent for body_timeout, but averages 50 bytes/s.
  for (int i = 0; i < 50 && srv->connection_count() > 0; ++i) {
    std::this_thread::sleep_for(20ms);
    try {
      c.send("z");
    } catch (const std::exception&) {
      break;
    }
  }
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 408);
}

TEST_P(http_limits_test, a_client_that_stops_reading_is_dropped_after_the_send_timeout) {
  auto srv = start({.send_timeout = 300ms});
  http_client c(srv->port());
  std::string many;
  for (int i = 0; i < 64; ++i) many += get("/big");  // 64 MiB of responses, never read
  c.send(many);
  ASSERT_TRUE(eventually([&] { return srv->stats().requests >= 1; }));  // it is writing to us
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(eventually([&] { return srv->connection_count() == 0; }, 5000ms));
  EXPECT_GE(std::chrono::steady_clock::now() - t0, 150ms);  // dropped by the timeout, not at once
}

TEST_P(http_limits_test, pipelined_responses_are_sent_in_bounded_batches) {
  auto srv = start({.max_unsent_bytes = 64 * 1024});
  http_client c(srv->port());
  std::string many;
  for (int i = 0; i < 8; ++i) many += get("/big");
  c.send(many);
  for (int i = 0; i < 8; ++i) {
    auto r = c.read_reply();
    ASSERT_TRUE(r) << "response " << i;
    EXPECT_EQ(r->body.size(), 1u << 20);
  }
}

TEST_P(http_limits_test, the_last_request_allowed_on_a_connection_says_connection_close) {
  auto srv = start({.max_requests_per_connection = 3});
  http_client c(srv->port());
  for (int i = 1; i <= 3; ++i) {
    auto r = c.request(get("/plain"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->header("connection"), i == 3 ? "close" : "") << "request " << i;
  }
  EXPECT_TRUE(c.closed_by_server());
}

TEST_P(http_limits_test, connections_over_the_maximum_are_closed_at_once) {
  auto srv = start({.max_connections = 2});
  http_client a(srv->port()), b(srv->port());
  ASSERT_TRUE(a.request(get("/plain")));
  ASSERT_TRUE(b.request(get("/plain")));
  http_client third(srv->port());
  EXPECT_TRUE(third.closed_by_server());
  EXPECT_TRUE(a.request(get("/plain")));  // the others are untouched
}

TEST_P(http_limits_test, expect_100_continue_gets_the_go_ahead_before_the_body) {
  auto srv = start();
  http_client c(srv->port());
  c.send("POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
  auto go = c.read_reply();
  ASSERT_TRUE(go);
  EXPECT_EQ(go->status, 100);
  c.send("hello");
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
}

TEST_P(http_limits_test, a_full_fd_table_pauses_accepting_without_spinning_and_it_resumes) {
  if (backend_name() == "io_uring")
    GTEST_SKIP() << "io_uring's multishot accept reads RLIMIT_NOFILE when it is armed, so lowering the limit "
                    "afterwards cannot provoke EMFILE in this process";
#ifdef C10K_SANITIZED
  GTEST_SKIP() << "UBSan's vptr check probes memory through a pipe, which needs the free fd this test takes away";
#endif
  std::vector<std::string> lines;
  std::mutex lines_mutex;
  auto previous = set_log_sink([&](log_level, std::string_view line) {
    std::lock_guard lock(lines_mutex);
    lines.emplace_back(line);
  });
  auto srv = start();
  // Client sockets are made now; they connect once the table is full, so that only the
  // server's accept needs a new fd.
  std::vector<int> clients;
  for (int i = 0; i < 5; ++i) clients.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  rlimit saved{};
  ::getrlimit(RLIMIT_NOFILE, &saved);
  const int lowest_free = ::dup(0);
  ::close(lowest_free);
  rlimit full = saved;
  full.rlim_cur = static_cast<rlim_t>(lowest_free);  // every fd below the limit is in use
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &full), 0);

  for (int fd : clients) {
    ASSERT_TRUE(c10k::testing::connect_loopback(fd, srv->port()));  // the backlog takes it
    const std::string req = get("/plain");
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
  }
  const auto before = srv->stats().syscalls;
  std::this_thread::sleep_for(500ms);
  const auto during = srv->stats().syscalls - before;
  EXPECT_EQ(srv->stats().connections, 0u);  // nothing could be accepted
  EXPECT_LT(during, 200u) << "accepting must pause, not spin, while the fd table is full";
  ::setrlimit(RLIMIT_NOFILE, &saved);

  // Room again: every waiting client is served.
  for (int fd : clients) {
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[512];
    ssize_t n;
    do n = ::recv(fd, buf, sizeof buf, 0);
    while (n < 0 && errno == EINTR);
    ASSERT_GT(n, 0);
    EXPECT_EQ(std::string(buf, 12), "HTTP/1.1 200");
    ::close(fd);
  }
  set_log_sink(previous);
  std::lock_guard lock(lines_mutex);
  std::size_t accept_lines = 0;
  for (const auto& l : lines)
    if (l.find("accept:") != std::string::npos) ++accept_lines;
  EXPECT_EQ(accept_lines, 1u) << "one log line per burst, not one per attempt";
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(http_limits_test);
