// Blocking-style HTTP handlers, run on fibers, over real sockets on every backend.
#include <gtest/gtest.h>
#include <netdb.h>

#include <string>

#include "backend_param.hpp"
#include "c10k/fiber.hpp"
#include "c10k/http/server.hpp"
#include "c10k/offload.hpp"
#include "c10k/sync.hpp"
#include "c10k/time.hpp"
#include "http_client.hpp"
#include "test_server.hpp"

using namespace c10k;
using namespace std::chrono_literals;
using c10k::testing::get;
using c10k::testing::http_client;

namespace {

// Deep, plain recursion: only a real stack runs it.
std::size_t depth_sum(std::size_t n) {
  volatile char pad[64] = {};
  return n == 0 ? pad[0] : n + depth_sum(n - 1);
}

class fiber_handler_test : public c10k::testing::backend_test {
 protected:
  event released;  // on the server's only loop

  std::unique_ptr<http::server> start() {
    http::router r;
    r.get("/blocking", [](http::request& q) {
      // Straight-line code that blocks: the fiber parks, the loop does not.
      if (!fiber::sleep_for(1ms)) return http::response::text(500, "sleep failed");
      return http::response::text(200, "slept on " + std::string(q.path()) + ", depth " + std::to_string(depth_sum(500)));
    });
    r.get("/wait", [this](http::request&) {
      fiber::await(released.wait());
      return http::response::text(200, "released");
    });
    r.get("/release", [this](http::request&) -> task<http::response> {
      released.set();
      co_return http::response::text(200, "done");
    });
    r.get("/lookup", [](http::request&) {
      // A blocking library call (name lookup) goes to the helper pool; the fiber waits.
      const int found = *fiber::await(offload([] {
        addrinfo* res = nullptr;
        const int rc = ::getaddrinfo("localhost", "80", nullptr, &res);
        int n = 0;
        for (addrinfo* a = res; a; a = a->ai_next) ++n;
        if (rc == 0) ::freeaddrinfo(res);
        return n;
      }));
      return http::response::text(found > 0 ? 200 : 500, std::to_string(found));
    });
    r.get("/throw", [](http::request&) -> http::response { throw std::runtime_error("blocking handler bug"); });
    return c10k::testing::start_test_server(std::move(r), backend_name());
  }
};

}  // namespace

TEST_P(fiber_handler_test, a_blocking_handler_answers_from_its_fiber) {
  auto srv = start();
  http_client c(srv->port());
  auto r = c.request(get("/blocking"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "slept on /blocking, depth " + std::to_string(depth_sum(500)));
}

TEST_P(fiber_handler_test, the_loop_serves_others_while_a_blocking_handler_waits) {
  auto srv = start();
  http_client waiting(srv->port()), releasing(srv->port());
  waiting.send(get("/wait"));  // parks its fiber until /release runs on the same loop
  auto rel = releasing.request(get("/release"));
  ASSERT_TRUE(rel);
  EXPECT_EQ(rel->body, "done");
  auto r = waiting.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "released");
}

TEST_P(fiber_handler_test, a_blocking_library_call_runs_on_the_helper_pool) {
  auto srv = start();
  http_client c(srv->port());
  auto r = c.request(get("/lookup"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_P(fiber_handler_test, an_exception_in_a_blocking_handler_is_a_500_and_the_connection_lives) {
  auto srv = start();
  http_client c(srv->port());
  auto r = c.request(get("/throw"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  r = c.request(get("/blocking"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

// Connections on fibers (server_options::fiber_connections).
class fiber_connection_test : public c10k::testing::backend_test {
 protected:
  event released;  // on the server's only loop

  std::unique_ptr<http::server> start(bool fiber_connections) {
    http::router r;
    r.get("/fiber", [](http::request&) { return http::response::text(200, std::to_string(fiber::current_id())); });
    r.get("/coroutine-blocks", [](http::request&) -> task<http::response> {
      // A coroutine handler that calls blocking-style code: only a connection on a fiber
      // lets it (elsewhere fiber::await throws std::logic_error, hence a 500).
      if (!fiber::await(sleep_for(1ms))) co_return http::response::text(500, "sleep failed");
      co_await sleep_for(1ms);  // and co_await still works there
      co_return http::response::text(200, std::to_string(fiber::current_id()));
    });
    r.get("/wait", [this](http::request&) {
      fiber::await(released.wait());
      return http::response::text(200, "released");
    });
    r.get("/wait-coroutine", [this](http::request&) -> task<http::response> {
      co_await released.wait();
      co_return http::response::text(200, "released");
    });
    // never_blocks: called in place, on the loop (or on the connection's fiber), with no fiber
    // or coroutine of its own.
    r.get("/in-place", [](http::request&) { return http::response::text(200, fiber::in_fiber() ? "fiber" : "loop"); },
          {.never_blocks = true});
    r.get("/in-place-throws", [](http::request&) -> http::response { throw std::runtime_error("in-place bug"); },
          {.never_blocks = true});
    http::server_options o;
    o.fiber_connections = fiber_connections;
    o.drain_timeout = 100ms;
    return c10k::testing::start_test_server(std::move(r), backend_name(), o);
  }
};

TEST_P(fiber_connection_test, every_request_of_a_connection_runs_on_the_connection_fiber) {
  auto srv = start(true);
  http_client a(srv->port()), b(srv->port());
  auto a1 = a.request(get("/fiber"));
  auto a2 = a.request(get("/fiber"));
  auto b1 = b.request(get("/fiber"));
  ASSERT_TRUE(a1 && a2 && b1);
  EXPECT_NE(a1->body, "0");
  EXPECT_EQ(a1->body, a2->body);  // one fiber for the whole connection
  EXPECT_NE(a1->body, b1->body);  // and one per connection
}

TEST_P(fiber_connection_test, a_connection_fiber_serves_a_thousand_requests_in_bounded_stack) {
  // Nothing on a hosting fiber ever suspends, so in builds without tail calls (Debug, ASan)
  // each request's transfers nest native frames; the fiber must unwind them (stack_limit and
  // the bounce in resume_later) instead of overflowing its stack.
  auto srv = start(true);
  http_client c(srv->port());
  std::string first;
  for (int i = 0; i < 1000; ++i) {
    auto r = c.request(get("/fiber"));
    ASSERT_TRUE(r) << "request " << i;
    if (i == 0) first = r->body;
    ASSERT_EQ(r->body, first) << "request " << i << " left the connection's fiber";
  }
}

TEST_P(fiber_connection_test, without_fiber_connections_each_blocking_request_gets_a_fiber) {
  auto srv = start(false);
  http_client a(srv->port());
  auto a1 = a.request(get("/fiber"));
  auto a2 = a.request(get("/fiber"));
  ASSERT_TRUE(a1 && a2);
  EXPECT_NE(a1->body, "0");
  EXPECT_NE(a1->body, a2->body);
}

TEST_P(fiber_connection_test, a_coroutine_handler_may_block_on_a_connection_fiber) {
  auto srv = start(true);
  http_client c(srv->port());
  auto first = c.request(get("/fiber"));
  auto r = c.request(get("/coroutine-blocks"));
  ASSERT_TRUE(first && r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, first->body);
}

TEST_P(fiber_connection_test, fiber_await_in_a_coroutine_handler_is_an_error_without_fiber_connections) {
  auto srv = start(false);
  http_client c(srv->port());
  auto r = c.request(get("/coroutine-blocks"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
}

TEST_P(fiber_connection_test, a_connection_fiber_blocked_in_its_handler_is_unwound_when_the_server_stops) {
  // /wait never returns: stopping the server outlasts the drain, and the loop's end must
  // unwind the parked fiber (its frames, its socket) instead of hanging or leaking.
  auto srv = start(true);
  http_client idle(srv->port()), waiting(srv->port());
  ASSERT_TRUE(idle.request(get("/fiber")));
  waiting.send(get("/wait"));
  ASSERT_TRUE(c10k::testing::eventually([&] { return srv->stats().requests >= 1 && srv->connection_count() == 2; }));
  srv->stop();
  srv->wait();
  EXPECT_EQ(srv->connection_count(), 0u);
  EXPECT_FALSE(waiting.read_reply());  // closed, never answered
}

TEST_P(fiber_connection_test, a_never_blocks_handler_is_called_in_place_without_a_fiber) {
  auto srv = start(false);
  http_client c(srv->port());
  auto r = c.request(get("/in-place"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "loop");  // a blocking_handler without never_blocks would run on a fiber
  auto thrown = c.request(get("/in-place-throws"));
  ASSERT_TRUE(thrown);
  EXPECT_EQ(thrown->status, 500);
  c.send("HEAD /in-place HTTP/1.1\r\nHost: x\r\n\r\n");
  auto head = c.read_reply(/*head_only=*/true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->body, "");
  auto again = c.request(get("/in-place"));  // the connection is still in step
  ASSERT_TRUE(again);
  EXPECT_EQ(again->body, "loop");
}

TEST_P(fiber_connection_test, a_never_blocks_handler_runs_on_the_connection_fiber_with_fiber_connections) {
  auto srv = start(true);
  http_client c(srv->port());
  auto r = c.request(get("/in-place"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "fiber");
}

TEST_P(fiber_connection_test, a_burst_suspended_in_its_handler_is_destroyed_when_the_server_stops) {
  // In coroutine mode a burst frees its own frame and is in no task list of the loop: the
  // loop's end must still destroy one that waits for ever (its frames, its socket).
  auto srv = start(false);
  http_client idle(srv->port()), waiting(srv->port());
  ASSERT_TRUE(idle.request(get("/in-place")));
  waiting.send(get("/wait-coroutine"));
  ASSERT_TRUE(c10k::testing::eventually([&] { return srv->stats().requests >= 1 && srv->connection_count() == 2; }));
  srv->stop();
  srv->wait();
  EXPECT_EQ(srv->connection_count(), 0u);
  EXPECT_FALSE(waiting.read_reply());  // closed, never answered
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(fiber_handler_test);
C10K_INSTANTIATE_FOR_EVERY_BACKEND(fiber_connection_test);
