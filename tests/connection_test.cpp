// The connection's parts under a strict client, over real sockets on every backend: pipelining
// across timeouts, heads parsed once, 100 Continue in order, HTTP/1.0 Expect, framing owned
// by the writer, a graceful stop that answers what it read, and fairness between clients.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
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
using c10k::testing::http_client;

namespace {

// A blocking loopback client for byte-exact checks (receive timeouts so a hung server fails).
using raw_socket = http_client;

std::size_t count_of(std::string_view hay, std::string_view needle) {
  std::size_t n = 0;
  for (auto at = hay.find(needle); at != std::string_view::npos; at = hay.find(needle, at + 1)) ++n;
  return n;
}

class connection_test : public c10k::testing::backend_test {
 protected:
  std::unique_ptr<http::server> start(http::router r, http::server_options o = {}) {
    return c10k::testing::start_test_server(std::move(r), backend_name(), std::move(o));
  }
  static http::router basic_routes() {
    http::router r;
    r.get("/plain", [](http::request&) -> task<http::response> { co_return http::response::text(200, "x"); });
    r.post("/echo", [](http::request& q) -> task<http::response> { co_return http::response::text(200, std::string(q.body())); });
    return r;
  }
};

}  // namespace

// An honest client that pipelines without pause, each write ending in the middle of a
// request, must never meet the head timeout: each request's head deadline starts with it.
TEST_P(connection_test, pipelining_with_reads_ending_mid_request_outlives_the_header_timeout) {
  auto srv = start(basic_routes(), {.header_timeout = 200ms});
  raw_socket c(srv->port());
  const std::string req = "GET /plain HTTP/1.1\r\nHost: t\r\n\r\n";
  const std::size_t cut = 10;  // each write: the rest of one request and the start of the next
  constexpr int requests = 100;
  std::string replies;
  std::thread reader_thread([&] {  // reads until every reply is in, or the server closes
    char tmp[65536];
    while (count_of(replies, "HTTP/1.1 ") < static_cast<std::size_t>(requests)) {
      const ssize_t n = ::recv(c.fd(), tmp, sizeof tmp, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      replies.append(tmp, static_cast<std::size_t>(n));
    }
  });
  const auto started = std::chrono::steady_clock::now();
  bool sent_all = true;
  try {
    c.send(req.substr(0, cut));
    for (int i = 1; i < requests; ++i) {
      std::this_thread::sleep_for(5ms);  // a prompt client: 5 ms between writes, 500 ms in all
      c.send(req.substr(cut) + req.substr(0, cut));
    }
    c.send(req.substr(cut));
  } catch (const std::exception&) {
    sent_all = false;  // the server closed the connection
  }
  EXPECT_TRUE(sent_all);
  EXPECT_GT(std::chrono::steady_clock::now() - started, 2 * 200ms) << "the test must outlast the header timeout";
  ::shutdown(c.fd(), SHUT_WR);
  reader_thread.join();
  EXPECT_EQ(count_of(replies, "HTTP/1.1 200"), static_cast<std::size_t>(requests));
  EXPECT_EQ(count_of(replies, "408"), 0u) << replies.substr(replies.size() > 300 ? replies.size() - 300 : 0);
}

// A large head whose body arrives in many pieces is parsed once, not once per piece.
TEST_P(connection_test, a_large_head_with_a_body_in_many_segments_is_parsed_once) {
  auto srv = start(basic_routes());
  std::string head = "POST /echo HTTP/1.1\r\nHost: t\r\n";
  for (int i = 0; i < 28; ++i) head += "X-Filler-" + std::to_string(i) + ": " + std::string(2000, 'f') + "\r\n";
  constexpr std::size_t pieces = 300, piece = 10;
  head += "Content-Length: " + std::to_string(pieces * piece) + "\r\n\r\n";
  ASSERT_GT(head.size(), 50'000u);
  const auto before = srv->stats().head_parses;
  raw_socket c(srv->port());
  c.send(head);
  for (std::size_t i = 0; i < pieces; ++i) {
    c.send(std::string(piece, static_cast<char>('a' + i % 26)));
    std::this_thread::sleep_for(200us);  // pacing only: more receives make the check stronger
  }
  const std::string reply = c.read_until("\r\n\r\n");
  ASSERT_NE(reply.find("HTTP/1.1 200"), std::string::npos) << reply.substr(0, 200);
  const auto parses = srv->stats().head_parses - before;
  EXPECT_GE(parses, 1u);
  EXPECT_LE(parses, 2u) << "a head must not be parsed again for every piece of its body";
}

// "100 Continue" for a pipelined POST goes out after the response to the request before it.
TEST_P(connection_test, continue_goes_out_after_earlier_pipelined_responses) {
  http::router r = basic_routes();
  r.get("/slow", [](http::request&) -> task<http::response> {
    co_await sleep_for(30ms);
    co_return http::response::text(200, "slow");
  });
  auto srv = start(std::move(r));
  raw_socket c(srv->port());
  c.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"
         "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
  const std::string got = c.read_until("100 Continue\r\n\r\n");
  const auto first = got.find("HTTP/1.1 200");
  const auto cont = got.find("HTTP/1.1 100 Continue");
  ASSERT_NE(cont, std::string::npos) << got;
  ASSERT_NE(first, std::string::npos) << got;
  EXPECT_LT(first, cont) << got;
  c.send("hello");
  EXPECT_NE(c.read_until("hello").find("\r\n\r\nhello"), std::string::npos);
}

// RFC 9110 10.1.1: an HTTP/1.0 request's Expect is ignored, not refused with 417.
TEST_P(connection_test, http_1_0_ignores_expect) {
  auto srv = start(basic_routes());
  http_client c(srv->port());
  auto r = c.request("POST /echo HTTP/1.0\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello");
}

// 204, 304 and HEAD never carry body bytes, whatever the handler put in the body: the next
// response on the connection starts right after their heads.
TEST_P(connection_test, no_body_bytes_for_204_304_and_head) {
  http::router r = basic_routes();
  r.get("/204", [](http::request&) -> task<http::response> { co_return http::response::text(204, "junk"); });
  r.get("/304", [](http::request&) -> task<http::response> { co_return http::response::text(304, "junk"); });
  r.get("/text", [](http::request&) -> task<http::response> { co_return http::response::text(200, "junk"); });
  auto srv = start(std::move(r));
  for (std::string first : {"GET /204", "GET /304", "HEAD /text"}) {
    raw_socket c(srv->port());
    c.send(first + " HTTP/1.1\r\nHost: t\r\n\r\nGET /plain HTTP/1.1\r\nHost: t\r\n\r\n");
    const std::string got = c.read_until("\r\n\r\nx");
    const auto end_of_first = got.find("\r\n\r\n") + 4;
    EXPECT_EQ(got.compare(end_of_first, 12, "HTTP/1.1 200"), 0) << first << ":\n" << got;
    EXPECT_EQ(got.find("junk"), std::string::npos) << first;
  }
}

// A handler cannot split a response or set the framing: such a response becomes a 500, with
// nothing of it on the wire, and the connection goes on.
TEST_P(connection_test, handler_framing_headers_and_crlf_in_values_give_500) {
  http::router r = basic_routes();
  r.get("/split", [](http::request&) -> task<http::response> {
    http::response x = http::response::text(200, "ok");
    x.set_header("X-Note", "a\r\nInjected: yes");
    co_return x;
  });
  r.get("/nul", [](http::request&) -> task<http::response> {
    http::response x = http::response::text(200, "ok");
    x.set_header("X-Note", std::string("a\0b", 3));
    co_return x;
  });
  for (const char* name : {"Content-Length", "Transfer-Encoding", "Connection"}) {
    r.get(std::string("/set/") + name, [name](http::request&) -> task<http::response> {
      http::response x = http::response::text(200, "ok");
      x.set_header(name, std::string(name) == "Content-Length" ? "1" : "chunked");
      co_return x;
    });
  }
  auto srv = start(std::move(r));
  http_client c(srv->port());
  for (std::string path : {"/split", "/nul", "/set/Content-Length", "/set/Transfer-Encoding", "/set/Connection"}) {
    auto reply = c.request("GET " + path + " HTTP/1.1\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(reply) << path;
    EXPECT_EQ(reply->status, 500) << path;
    EXPECT_EQ(reply->header("injected"), "") << path;
    EXPECT_NE(reply->header("connection"), "close") << path;
  }
  auto last = c.request("GET /plain HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->status, 200);
}

// A graceful stop never drops a request whose bytes the server read: if the handler ran, the
// client gets its response (which says Connection: close when the drain had begun). The stop and the request race on
// purpose; the assertion holds whichever wins.
TEST_P(connection_test, a_graceful_stop_answers_every_request_it_read) {
  std::atomic<int> handled{0};
  int answered = 0;
  for (int round = 0; round < 40; ++round) {
    http::router r;
    r.get("/plain", [&](http::request&) -> task<http::response> {
      ++handled;
      co_return http::response::text(200, "x");
    });
    auto srv = start(std::move(r));
    raw_socket c(srv->port());
    ASSERT_TRUE(eventually([&] { return srv->connection_count() == 1; }));
    const int before = handled;
    srv->stop();
    c.send("GET /plain HTTP/1.1\r\nHost: t\r\n\r\n");
    const std::string got = c.read_all();
    srv->wait();
    if (handled > before) {
      EXPECT_NE(got.find("HTTP/1.1 200"), std::string::npos) << "round " << round << ": the handler ran, no response";
      ++answered;
    }
  }
  RecordProperty("answered", answered);
}

// A client that pipelines without pause does not hold the loop: another client's request is
// answered after a few turns' worth of the flood, not after all of it. The flood is queued in
// the socket while its first request waits at a gate, so that, once the gate opens, every
// read and write of the flooding connection succeeds at once (on the readiness backends it
// would never suspend by itself).
TEST_P(connection_test, a_flooding_pipelined_client_does_not_starve_another) {
  std::mutex m;
  std::vector<char> order;  // 'f' for a flood request, 'o' for the other client's
  std::atomic<bool> gate{false};
  http::router r;
  r.get("/gate", [&](http::request&) -> task<http::response> {
    while (!gate) co_await sleep_for(1ms);
    co_return http::response::text(200, "g");
  });
  r.get("/f", [&](http::request&) -> task<http::response> {
    std::lock_guard l(m);
    order.push_back('f');
    co_return http::response::text(200, "f");
  });
  r.get("/o", [&](http::request&) -> task<http::response> {
    std::lock_guard l(m);
    order.push_back('o');
    co_return http::response::text(200, "o");
  });
  const unsigned budget = 64;
  auto srv = start(std::move(r), {.max_requests_per_connection = 0, .requests_per_turn = budget});
  raw_socket f(srv->port());
  const std::string one = "GET /f HTTP/1.1\r\nHost: t\r\n\r\n";
  constexpr std::size_t per_write = 1000, writes = 40;
  std::string batch;
  for (std::size_t i = 0; i < per_write; ++i) batch += one;
  std::atomic<std::size_t> queued{0};
  std::atomic<bool> stop{false};
  f.send("GET /gate HTTP/1.1\r\nHost: t\r\n\r\n");
  std::thread flooder([&] {
    for (std::size_t i = 0; i < writes && !stop; ++i) {
      try {
        f.send(batch);
      } catch (...) {
        return;
      }
      queued += batch.size();
    }
  });
  std::thread drain([&] {  // takes the flood's responses as fast as they come
    char tmp[1 << 16];
    while (!stop) {
      const ssize_t n = ::recv(f.fd(), tmp, sizeof tmp, 0);
      if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) break;
    }
  });
  // Enough of the flood is queued that answering it all takes hundreds of turns' budgets.
  const std::size_t enough = 100 * budget * one.size();
  const bool filled = eventually([&] { return queued >= enough; }, 5000ms);
  http_client o(srv->port());  // accepted while the gate holds the loop's only busy client
  EXPECT_TRUE(eventually([&] { return srv->connection_count() == 2; }));
  gate = true;
  std::size_t at_send = 0;  // flood requests answered when the other client sent its request
  EXPECT_TRUE(eventually([&] {
    std::lock_guard l(m);
    return !order.empty();
  }));
  {
    std::lock_guard l(m);
    at_send = order.size();
  }
  o.send("GET /o HTTP/1.1\r\nHost: t\r\n\r\n");
  auto reply = o.read_reply();
  stop = true;
  ::shutdown(f.fd(), SHUT_RDWR);
  flooder.join();
  drain.join();
  ASSERT_TRUE(filled) << "the sockets took only " << queued << " bytes of the flood";
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->body, "o");
  std::lock_guard l(m);
  std::size_t before = 0;
  while (before < order.size() && order[before] != 'o') ++before;
  ASSERT_LT(before, order.size()) << "the other client was never served";
  // A few turns: the budget per turn, times a few for the turns the other client's wake-up
  // may take; the flood queued was a hundred budgets and more.
  ASSERT_GE(before, at_send);
  EXPECT_LE(before - at_send, 8 * budget) << "the other client waited for " << before - at_send << " flood requests";
  RecordProperty("flood_requests_before_other", static_cast<int>(before - at_send));
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(connection_test);
