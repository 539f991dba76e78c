// A deadline crossing services, over real sockets on every backend: a caller's budget reaches a
// c10k server in a header, becomes its handler's deadline, is inherited by the HTTP client the
// handler calls an upstream with, and leaves again in the same header, smaller; and an upstream
// that is late ends the handler's call at the deadline (504), not at the client's own timeouts.
#include <gtest/gtest.h>

#include <string>

#include "backend_param.hpp"
#include "c10k/http/client.hpp"
#include "c10k/http/server.hpp"
#include "c10k/time.hpp"
#include "http_client.hpp"
#include "test_server.hpp"

using namespace c10k;
using namespace std::chrono_literals;
using c10k::testing::get;
using c10k::testing::http_client;

namespace {

constexpr const char* budget_header = "X-Deadline-Ms";

class deadline_propagation_test : public c10k::testing::backend_test {
 protected:
  // The upstream: /budget answers with the budget header it got ("none" without one); /late
  // answers after two seconds.
  std::unique_ptr<http::server> start_upstream() {
    http::router r;
    r.get("/budget", [](http::request& q) -> task<http::response> {
      co_return http::response::text(200, std::string(q.header(budget_header).value_or("none")));
    });
    r.get("/late", [](http::request&) -> task<http::response> {
      (void)co_await sleep_for(2s);
      co_return http::response::text(200, "too late");
    });
    return c10k::testing::start_test_server(std::move(r), backend_name());
  }

  // The service in the middle: takes its deadline from the budget header (or request_timeout),
  // and calls the upstream's `path` with a client that passes the budget on.
  std::unique_ptr<http::server> start_service(std::uint16_t upstream_port, std::chrono::milliseconds request_timeout) {
    http::router r;
    r.get("/via/{path}", [this, upstream_port](http::request& q) -> task<http::response> {
      const http::upstream up{"127.0.0.1", upstream_port};
      http::client_request call;
      call.target = "/" + std::string(q.param("path"));
      auto got = co_await client_.fetch(up, std::move(call));
      if (!got) {
        const int status = got.error() == std::errc::timed_out ? 504 : 502;
        co_return http::response::text(status, got.error().message());
      }
      co_return http::response::text(got->status, got->body);
    });
    http::server_options o;
    o.deadline_header = budget_header;
    o.request_timeout = request_timeout;
    return c10k::testing::start_test_server(std::move(r), backend_name(), o);
  }

  http::client client_{http::client_options{.deadline_header = budget_header}};
};

}  // namespace

TEST_P(deadline_propagation_test, a_budget_in_the_header_reaches_the_next_service_smaller) {
  auto upstream = start_upstream();
  auto service = start_service(upstream->port(), 0ms);
  http_client c(service->port());
  auto r = c.request("GET /via/budget HTTP/1.1\r\nHost: x\r\nX-Deadline-Ms: 800\r\n\r\n");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const long ms = std::stol(r->body);  // "none" would throw: the budget must have been passed on
  EXPECT_GT(ms, 0);
  EXPECT_LE(ms, 800);
}

TEST_P(deadline_propagation_test, a_request_timeout_is_the_budget_the_client_passes_on) {
  auto upstream = start_upstream();
  auto service = start_service(upstream->port(), 300ms);
  http_client c(service->port());
  auto r = c.request(get("/via/budget"));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  const long ms = std::stol(r->body);
  EXPECT_GT(ms, 0);
  EXPECT_LE(ms, 300);
}

TEST_P(deadline_propagation_test, a_late_upstream_ends_the_call_at_the_callers_deadline) {
  // The client's own response timeout is 30 s and the upstream answers after 2 s: only the
  // deadline from the header (200 ms) can end the call before the upstream answers.
  auto upstream = start_upstream();
  auto service = start_service(upstream->port(), 0ms);
  http_client c(service->port());
  const auto before = clock::now();
  auto r = c.request("GET /via/late HTTP/1.1\r\nHost: x\r\nX-Deadline-Ms: 200\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504) << r->body;
  EXPECT_LT(clock::now() - before, 2s);  // not the upstream's answer: it came before it
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(deadline_propagation_test);
