// The HTTP/1.1 client against a c10k server in this process and against scripted upstreams
// that break the protocol on purpose, on every backend, from coroutines and from fibers.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "c10k/http/client.hpp"
#include "c10k/http/resolver.hpp"
#include "c10k/time.hpp"
#include "client_harness.hpp"
#include "raw_upstream.hpp"
#include "test_server.hpp"

using namespace c10k;
using namespace std::chrono_literals;
using c10k::testing::raw_peer;
using c10k::testing::raw_upstream;

namespace {

http::upstream local(std::uint16_t port) { return {"127.0.0.1", port}; }

// client_options with `set` applied to the defaults.
template <typename F>
http::client_options options(F set) {
  http::client_options o;
  set(o);
  return o;
}

http::client_request get(std::string target) {
  http::client_request q;
  q.target = std::move(target);
  return q;
}

http::client_request post(std::string target, std::string body) {
  http::client_request q;
  q.method = "POST";
  q.target = std::move(target);
  q.body = std::move(body);
  return q;
}

// A keep-alive upstream that answers every request of a connection with `response`.
raw_upstream answering(std::string response) {
  return raw_upstream([response](raw_peer& p, int) {
    while (!p.read_request().empty()) p.send(response);
  });
}

http::router echo_routes() {
  http::router r;
  r.get("/plain", [](http::request&) -> task<http::response> { co_return http::response::text(200, "x"); });
  r.post("/echo", [](http::request& q) -> task<http::response> { co_return http::response::text(200, std::string(q.body())); });
  r.get("/headers", [](http::request& q) -> task<http::response> {
    co_return http::response::text(200, std::string(q.header("X-Deadline-Ms").value_or("none")));
  });
  return r;
}

class client_test : public c10k::testing::client_mode_test {};

TEST_P(client_test, keep_alive_reuses_one_connection_to_a_c10k_server) {
  auto srv = c10k::testing::start_test_server(echo_routes(), backend_name());
  event_loop loop(backend_name());
  http::client cl;
  run(loop, [&] {
    for (int i = 0; i < 5; ++i) {
      auto r = call(loop, cl.fetch(local(srv->port()), get("/plain")));
      ASSERT_TRUE(r) << r.error().message();
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, "x");
    }
    EXPECT_EQ(cl.idle_connections(local(srv->port())), 1u);
  });
  EXPECT_EQ(cl.stats().connects, 1u);
  EXPECT_EQ(cl.stats().reused, 4u);
}

TEST_P(client_test, streamed_request_bodies_arrive_whole_chunked_and_sized) {
  auto srv = c10k::testing::start_test_server(echo_routes(), backend_name());
  event_loop loop(backend_name());
  http::client cl;
  std::string payload;
  for (int i = 0; payload.size() < 300'000; ++i) payload += std::to_string(i) + ",";
  run(loop, [&] {
    for (bool sized : {false, true}) {
      http::client_request q = post("/echo", "");
      q.body_stream = [&payload](http::body_writer& w) -> task<void> {
        for (std::size_t at = 0; at < payload.size(); at += 7000)
          if (!co_await w.write(std::string_view(payload).substr(at, 7000))) co_return;
      };
      if (sized) q.content_length = payload.size();
      auto r = call(loop, cl.send(local(srv->port()), std::move(q)));
      ASSERT_TRUE(r) << r.error().message();
      EXPECT_EQ(r->status(), 200);
      std::string got;
      int pieces = 0;
      for (;;) {  // the body streams: read piece by piece
        auto piece = call(loop, r->read());
        ASSERT_TRUE(piece) << piece.error().message();
        if (piece->empty()) break;
        got += *piece;
        ++pieces;
      }
      EXPECT_EQ(got, payload);
      EXPECT_GE(pieces, 1);
    }
  });
  EXPECT_EQ(cl.stats().connects, 1u);
}

TEST_P(client_test, a_sized_streamed_body_that_comes_short_fails_without_a_hang) {
  auto srv = c10k::testing::start_test_server(echo_routes(), backend_name());
  event_loop loop(backend_name());
  http::client cl;
  run(loop, [&] {
    http::client_request q = post("/echo", "");
    q.content_length = 10;
    q.body_stream = [](http::body_writer& w) -> task<void> { (void)co_await w.write("short"); };
    auto r = call(loop, cl.send(local(srv->port()), std::move(q)));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::invalid_argument);
  });
}

TEST_P(client_test, responses_to_head_204_and_304_have_no_body_whatever_they_announce) {
  // Each answer claims a body it does not send; reading one would eat the next response.
  raw_upstream up([](raw_peer& p, int) {
    for (std::string q; !(q = p.read_request()).empty();) {
      if (q.starts_with("HEAD")) p.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
      else if (q.starts_with("GET /204")) p.send("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n");
      else if (q.starts_with("GET /304")) p.send("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n");
      else p.send("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    }
  });
  event_loop loop(backend_name());
  http::client cl;
  run(loop, [&] {
    http::client_request head = get("/");
    head.method = "HEAD";
    for (auto* q : {&head}) {
      auto r = call(loop, cl.fetch(local(up.port()), std::move(*q)));
      ASSERT_TRUE(r) << r.error().message();
      EXPECT_EQ(r->body, "");
    }
    for (const char* path : {"/204", "/304"}) {
      auto r = call(loop, cl.fetch(local(up.port()), get(path)));
      ASSERT_TRUE(r) << r.error().message();
      EXPECT_EQ(r->body, "");
    }
    auto r = call(loop, cl.fetch(local(up.port()), get("/")));  // after an interim 100
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "ok");
  });
  EXPECT_EQ(up.connections(), 1);  // all on one connection, none desynchronised
}

TEST_P(client_test, a_truncated_body_is_an_error_and_its_connection_is_not_reused) {
  raw_upstream up([](raw_peer& p, int n) {
    if (n == 0) {
      p.read_request();
      p.send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");  // then the close
      return;
    }
    while (!p.read_request().empty()) p.send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine");
  });
  event_loop loop(backend_name());
  http::client cl;
  run(loop, [&] {
    auto r = call(loop, cl.fetch(local(up.port()), get("/")));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::connection_aborted);
    auto next = call(loop, cl.fetch(local(up.port()), get("/")));
    ASSERT_TRUE(next) << next.error().message();
    EXPECT_EQ(next->body, "fine");
  });
  EXPECT_EQ(up.connections(), 2);
  EXPECT_GE(cl.stats().bad_responses, 1u);
}

TEST_P(client_test, bad_chunking_is_an_error_and_closes_the_connection) {
  raw_upstream up([](raw_peer& p, int n) {
    p.read_request();
    if (n == 0) {
      p.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n");
      p.wait_for_close();
      return;
    }
    p.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nfine\r\n0\r\n\r\n");
    p.wait_for_close();
  });
  event_loop loop(backend_name());
  http::client cl;
  run(loop, [&] {
    auto r = call(loop, cl.fetch(local(up.port()), get("/")));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::bad_message);
    auto next = call(loop, cl.fetch(local(up.port()), get("/")));
    ASSERT_TRUE(next) << next.error().message();
    EXPECT_EQ(next->body, "fine");
  });
  EXPECT_EQ(up.connections(), 2);
}

TEST_P(client_test, a_content_length_that_undercounts_never_leaks_into_the_next_response) {
  // The extra bytes look like a whole response; the connection carrying them must not be reused.
  raw_upstream up([](raw_peer& p, int n) {
    p.read_request();
    if (n == 0) {
      p.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged");
      p.wait_for_close();
      return;
    }
    p.send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal");
    p.wait_for_close();
  });
  event_loop loop(backend_name());
  http::client cl;
  run(loop, [&] {
    auto r = call(loop, cl.fetch(local(up.port()), get("/")));
    ASSERT_TRUE(r) << r.error().message();
    EXPECT_EQ(r->body, "ok");
    auto next = call(loop, cl.fetch(local(up.port()), get("/")));
    ASSERT_TRUE(next) << next.error().message();
    EXPECT_EQ(next->body, "real");
  });
  EXPECT_EQ(up.connections(), 2);
}

TEST_P(client_test, a_content_length_that_overcounts_times_out_in_the_body) {
  raw_upstream up([](raw_peer& p, int) {
    p.read_request();
    p.send("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
    p.wait_for_close();
  });
  event_loop loop(backend_name());
  http::client cl(options([](http::client_options& o) { o.body_timeout = 100ms; }));
  run(loop, [&] {
    auto r = call(loop, cl.fetch(local(up.port()), get("/")));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::timed_out);
  });
}

TEST_P(client_test, an_upstream_that_never_answers_times_out_by_option_and_by_deadline) {
  raw_upstream up([](raw_peer& p, int) { p.wait_for_close(); });
  event_loop loop(backend_name());
  http::client cl(options([](http::client_options& o) { o.response_timeout = 100ms; }));
  http::client patient;
  run(loop, [&] {
    auto r = call(loop, cl.fetch(local(up.port()), get("/")));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::timed_out);
    http::client_request q = get("/");
    q.deadline = clock::now() + 100ms;  // the response timeout alone would wait 30 s
    auto d = call(loop, patient.fetch(local(up.port()), std::move(q)));
    ASSERT_FALSE(d);
    EXPECT_EQ(d.error(), std::errc::timed_out);
  });
}

TEST_P(client_test, the_callers_scope_ends_a_call_in_flight) {
  raw_upstream up([](raw_peer& p, int) { p.wait_for_close(); });
  event_loop loop(backend_name());
  http::client cl;
  run(loop, [&] {
    cancel_scope scope;
    // Cancels the scope once the request is in flight (a timer on the same loop).
    loop.spawn([](cancel_scope& s) -> task<void> {
      (void)co_await sleep_for(50ms);
      s.cancel();
    }(scope));
    auto call_in_scope = [](http::client& cl, cancel_scope& s, http::upstream to) -> task<result<http::client::whole_response>> {
      co_return co_await in_scope(s, cl.fetch(to, get("/")));
    };
    auto r = call(loop, call_in_scope(cl, scope, local(up.port())));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::operation_canceled);
  });
}

TEST_P(client_test, closing_mid_response_is_an_error_and_is_not_retried) {
  raw_upstream up([](raw_peer& p, int) {
    p.read_request();
    p.send("HTTP/1.1 200 OK\r\nContent-Le");
  });
  event_loop loop(backend_name());
  http::client cl;
  run(loop, [&] {
    auto r = call(loop, cl.fetch(local(up.port()), get("/")));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::connection_aborted);
  });
  EXPECT_EQ(cl.stats().retries, 0u);
  EXPECT_EQ(up.connections(), 1);
}

TEST_P(client_test, malformed_and_oversized_heads_are_errors) {
  auto garbage = answering("HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 0\r\n\r\n");
  auto both = answering("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  auto huge = answering("HTTP/1.1 200 OK\r\nX: " + std::string(2000, 'a') + "\r\n\r\n");
  event_loop loop(backend_name());
  http::client cl(options([](http::client_options& o) { o.limits.max_head_bytes = 1024; }));
  run(loop, [&] {
    auto r = call(loop, cl.fetch(local(garbage.port()), get("/")));
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error(), std::errc::bad_message);
    auto b = call(loop, cl.fetch(local(both.port()), get("/")));
    ASSERT_FALSE(b);
    EXPECT_EQ(b.error(), std::errc::bad_message);
    auto h = call(loop, cl.fetch(local(huge.port()), get("/")));
    ASSERT_FALSE(h);
    EXPECT_EQ(h.error(), std::errc::message_size);
  });
  EXPECT_EQ(cl.idle_connections(local(garbage.port())), 0u);
}

// The upstream answers the first request of its first connection, then closes that connection
// when the next request arrives on it, without answering: a stale pooled connection.
raw_upstream stale_after_one(std::atomic<int>& requests) {
  return raw_upstream([&requests](raw_peer& p, int n) {
    const std::string answer = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nfine";
    if (n == 0) {
      if (p.read_request().empty()) return;
      ++requests;
      p.send(answer);
      if (!p.read_request().empty()) ++requests;
      return;  // closed unanswered
    }
    for (; !p.read_request().empty(); ++requests) p.send(answer);
  });
}

TEST_P(client_test, a_stale_pooled_connection_is_retried_for_get_but_not_for_post) {
  std::atomic<int> requests{0};
  {
    auto up = stale_after_one(requests);
    event_loop loop(backend_name());
    http::client cl;
    run(loop, [&] {
      ASSERT_TRUE(call(loop, cl.fetch(local(up.port()), get("/"))));
      auto r = call(loop, cl.fetch(local(up.port()), get("/")));
      ASSERT_TRUE(r) << r.error().message();
      EXPECT_EQ(r->body, "fine");
    });
    EXPECT_EQ(cl.stats().retries, 1u);
    EXPECT_EQ(up.connections(), 2);
  }
  EXPECT_EQ(requests.load(), 3);
  requests = 0;
  {
    auto up = stale_after_one(requests);
    event_loop loop(backend_name());
    http::client cl;
    run(loop, [&] {
      ASSERT_TRUE(call(loop, cl.fetch(local(up.port()), post("/", "once"))));
      auto r = call(loop, cl.fetch(local(up.port()), post("/", "only once")));
      ASSERT_FALSE(r);
      EXPECT_EQ(r.error(), std::errc::connection_aborted);
    });
    EXPECT_EQ(cl.stats().retries, 0u);
    EXPECT_EQ(up.connections(), 1);
  }
  EXPECT_EQ(requests.load(), 2);
}

TEST_P(client_test, the_pool_is_bounded_and_evicts_idle_connections) {
  auto srv = c10k::testing::start_test_server(echo_routes(), backend_name());
  event_loop loop(backend_name());
  http::client cl(options([](http::client_options& o) { o.max_idle_per_upstream = 2; o.idle_timeout = 50ms; }));
  run(loop, [&] {
    // Three responses held at once hold three connections; only two go back to the pool.
    std::vector<http::client_response> held;
    for (int i = 0; i < 3; ++i) {
      auto r = call(loop, cl.send(local(srv->port()), get("/plain")));
      ASSERT_TRUE(r) << r.error().message();
      held.push_back(std::move(*r));
    }
    for (auto& r : held) {
      auto body = call(loop, r.read_all());
      ASSERT_TRUE(body);
      EXPECT_EQ(*body, "x");
    }
    EXPECT_EQ(cl.idle_connections(local(srv->port())), 2u);
    // The keeper runs every 25 ms on this loop and closes what has been idle 50 ms.
    for (int i = 0; i < 100 && cl.idle_connections(local(srv->port())) != 0; ++i) (void)call(loop, [] () -> task<int> {
      (void)co_await sleep_for(10ms);
      co_return 0;
    }());
    EXPECT_EQ(cl.idle_connections(local(srv->port())), 0u);
  });
  EXPECT_EQ(cl.stats().connects, 3u);
}

TEST_P(client_test, the_deadline_header_carries_the_remaining_budget) {
  auto srv = c10k::testing::start_test_server(echo_routes(), backend_name());
  event_loop loop(backend_name());
  http::client plain;
  http::client cl(options([](http::client_options& o) { o.deadline_header = "X-Deadline-Ms"; }));
  run(loop, [&] {
    auto off = call(loop, plain.fetch(local(srv->port()), get("/headers")));
    ASSERT_TRUE(off);
    EXPECT_EQ(off->body, "none");  // off by default
    http::client_request q = get("/headers");
    q.deadline = clock::now() + 5s;
    auto r = call(loop, cl.fetch(local(srv->port()), std::move(q)));
    ASSERT_TRUE(r) << r.error().message();
    const long ms = std::stol(r->body);
    EXPECT_GT(ms, 0);
    EXPECT_LE(ms, 5000);
  });
}

TEST_P(client_test, bad_requests_are_refused_before_anything_is_sent) {
  raw_upstream up([](raw_peer& p, int) { p.wait_for_close(); });
  event_loop loop(backend_name());
  http::client cl;
  run(loop, [&] {
    http::client_request q = get("/");
    q.headers.emplace_back("X-Evil", "a\r\nInjected: yes");
    auto r = call(loop, cl.fetch(local(up.port()), std::move(q)));
    EXPECT_EQ(r.error(), std::errc::invalid_argument);
    http::client_request framing = get("/");
    framing.headers.emplace_back("Content-Length", "5");
    EXPECT_EQ(call(loop, cl.fetch(local(up.port()), std::move(framing))).error(), std::errc::invalid_argument);
    EXPECT_EQ(call(loop, cl.fetch(local(up.port()), get("/a b"))).error(), std::errc::invalid_argument);
  });
  EXPECT_EQ(up.connections(), 0);
}

// A name /etc/hosts gives 127.0.0.1, other than "localhost" (which never reaches getaddrinfo).
std::string loopback_name() {
  std::ifstream hosts("/etc/hosts");
  for (std::string line; std::getline(hosts, line);) {
    std::istringstream words(line);
    std::string addr, name;
    if (!(words >> addr) || addr != "127.0.0.1") continue;
    while (words >> name)
      if (name != "localhost" && name.find('#') == std::string::npos) return name;
  }
  return {};
}

TEST_P(client_test, names_resolve_on_the_helper_pool_once_per_ttl) {
  auto srv = c10k::testing::start_test_server(echo_routes(), backend_name());
  event_loop loop(backend_name());
  http::client cl(options([](http::client_options& o) { o.max_idle_per_upstream = 0; }));  // every request connects, so every one resolves
  http::clear_resolver_cache();
  run(loop, [&] {
    const auto before = http::resolver_lookups();
    auto numeric = call(loop, cl.fetch(local(srv->port()), get("/plain")));
    ASSERT_TRUE(numeric);
    EXPECT_EQ(http::resolver_lookups(), before);  // numeric: no lookup
    const std::string name = loopback_name();
    if (name.empty()) {
      ADD_FAILURE() << "no name for 127.0.0.1 in /etc/hosts besides localhost; cannot test a lookup";
      return;
    }
    for (int i = 0; i < 3; ++i) {
      auto r = call(loop, cl.fetch({name, srv->port()}, get("/plain")));
      ASSERT_TRUE(r) << r.error().message();
      EXPECT_EQ(r->body, "x");
    }
    EXPECT_EQ(http::resolver_lookups(), before + 1);  // cached after the first
    auto missing = call(loop, cl.fetch({"no-such-host.invalid", srv->port()}, get("/")));
    EXPECT_FALSE(missing);
  });
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND_AND_MODE(client_test);

}  // namespace
