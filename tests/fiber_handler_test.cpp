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
      const int found = fiber::await(offload([] {
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

C10K_INSTANTIATE_FOR_EVERY_BACKEND(fiber_handler_test);
