// Request deadlines over real sockets: server_options::request_timeout and deadline_header
// put each handler in a scope bound to its request's deadline; every wait of the handler (a
// sleep, when_all's tasks, a blocking handler's fiber) ends with timed_out when it passes.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <system_error>

#include "backend_param.hpp"
#include "c10k/cancel.hpp"
#include "c10k/fiber.hpp"
#include "c10k/http/router.hpp"
#include "c10k/time.hpp"
#include "c10k/when.hpp"
#include "http_client.hpp"
#include "test_server.hpp"

using namespace c10k;
using namespace c10k::http;
using namespace std::chrono_literals;
using c10k::testing::http_client;

namespace {

class request_deadline_test : public c10k::testing::backend_test {};

// Long enough that only the deadline ends a wait in time: the client's own receive timeout
// (10 s) fails a test whose deadline was not applied.
constexpr auto long_wait = 30s;

// What the handlers saw, read by the test thread.
struct seen {
  std::atomic<int> timed_out{0};  // waits ended by the deadline
  std::atomic<int> other{0};      // waits that ended otherwise
  void record(std::error_code ec) { (ec == std::errc::timed_out ? timed_out : other).fetch_add(1); }
};

// A backend call that takes `d`: its result, or the error that ended its wait.
task<result<std::string>> call_backend(clock::duration d, std::string answer) {
  if (auto slept = co_await sleep_for(d); !slept) co_return slept.error();
  co_return answer;
}

router routes(seen& s) {
  router r;
  // Waits longer than any deadline, then answers 504 itself when the deadline ended the wait.
  r.get("/delay", [&s](request&) -> task<response> {
    auto slept = co_await sleep_for(long_wait);
    s.record(slept.error());
    co_return slept ? response::text(200, "slept\n") : response::text(504, "handler: " + slept.error().message() + "\n");
  });
  // Lets the error escape as an exception: the server answers 504 since the deadline passed.
  r.get("/delay-throws", [&s](request&) -> task<response> {
    auto slept = co_await sleep_for(long_wait);
    s.record(slept.error());
    slept.value();  // throws std::system_error(timed_out)
    co_return response::text(200, "slept\n");
  });
  // The budget the handler sees, in whole milliseconds ("none" without a deadline).
  r.get("/budget", [](request&) -> task<response> {
    cancel_scope* scope = co_await current_scope();
    if (!scope || !scope->has_deadline()) co_return response::text(200, "none");
    co_return response::text(200, std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(scope->remaining()).count()));
  });
  // Two backends at once under the request's deadline: what came back in time.
  r.get("/two", [&s](request&) -> task<response> {
    auto [fast, slow] = co_await when_all(call_backend(1ms, "fast"), call_backend(long_wait, "slow"));
    s.record(slow.error());
    co_return response::text(200, (fast ? *fast : fast.error().message()) + "," + (slow ? *slow : "late"));
  });
  // A blocking-style handler on a fiber: its waits inherit the deadline too.
  r.get("/fiber-delay", [&s](request&) {
    auto slept = fiber::sleep_for(long_wait);
    s.record(slept.error());
    return slept ? response::text(200, "slept\n") : response::text(504, "fiber: late\n");
  });
  return r;
}

std::string get_with(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: t\r\n" + extra + "\r\n";
}

}  // namespace

TEST_P(request_deadline_test, request_timeout_ends_the_handlers_wait_which_answers_504_itself) {
  seen s;
  server_options o;
  o.request_timeout = 50ms;
  auto srv = c10k::testing::start_test_server(routes(s), backend_name(), o);
  http_client c(srv->port());
  auto r = c.request(get_with("/delay"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_EQ(r->body, "handler: " + std::make_error_code(std::errc::timed_out).message() + "\n");
  EXPECT_EQ(s.timed_out.load(), 1);
  EXPECT_EQ(s.other.load(), 0);
  // The connection goes on: the next request gets a deadline of its own.
  auto again = c.request(get_with("/budget"));
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  EXPECT_NE(again->body, "none");
  EXPECT_LE(std::stoi(again->body), 50);
}

TEST_P(request_deadline_test, a_handler_that_throws_after_its_deadline_gets_a_504) {
  seen s;
  server_options o;
  o.request_timeout = 50ms;
  auto srv = c10k::testing::start_test_server(routes(s), backend_name(), o);
  http_client c(srv->port());
  auto r = c.request(get_with("/delay-throws"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_EQ(s.timed_out.load(), 1);
}

TEST_P(request_deadline_test, the_deadline_header_tightens_the_deadline_and_bad_values_are_ignored) {
  seen s;
  server_options o;
  o.request_timeout = 60s;
  o.deadline_header = "X-Deadline-Ms";
  auto srv = c10k::testing::start_test_server(routes(s), backend_name(), o);
  http_client c(srv->port());
  auto budget = [&](const std::string& extra) {
    auto r = c.request(get_with("/budget", extra));
    return r ? r->body : std::string("no reply");
  };
  EXPECT_GT(std::stoi(budget("")), 50'000);                           // request_timeout's
  EXPECT_LE(std::stoi(budget("X-Deadline-Ms: 300\r\n")), 300);          // the header's, tighter
  EXPECT_GT(std::stoi(budget("X-Deadline-Ms: 900000000\r\n")), 50'000);  // looser: ignored
  EXPECT_GT(std::stoi(budget("X-Deadline-Ms: 12ms\r\n")), 50'000);        // not plain digits
  // A wait ends with the header's deadline (the request's own is a minute away; the client
  // gives up after 10 s).
  auto r = c.request(get_with("/delay", "x-deadline-ms: 30\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_EQ(s.timed_out.load(), 1);
}

TEST_P(request_deadline_test, the_deadline_header_alone_sets_a_deadline_and_without_options_there_is_none) {
  seen s;
  server_options o;
  o.deadline_header = "X-Deadline-Ms";
  auto srv = c10k::testing::start_test_server(routes(s), backend_name(), o);
  http_client c(srv->port());
  auto r = c.request(get_with("/budget"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "none");
  r = c.request(get_with("/delay", "X-Deadline-Ms: 20\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);

  auto plain = c10k::testing::start_test_server(routes(s), backend_name());
  http_client p(plain->port());
  r = p.request(get_with("/budget", "X-Deadline-Ms: 20\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "none");
}

TEST_P(request_deadline_test, when_all_under_the_request_deadline_answers_with_what_came_back_in_time) {
  seen s;
  server_options o;
  o.request_timeout = 50ms;
  auto srv = c10k::testing::start_test_server(routes(s), backend_name(), o);
  http_client c(srv->port());
  auto r = c.request(get_with("/two"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "fast,late");
  EXPECT_EQ(s.timed_out.load(), 1);
}

TEST_P(request_deadline_test, a_blocking_handlers_fiber_waits_end_with_the_request_deadline) {
  seen s;
  server_options o;
  o.request_timeout = 50ms;
  auto srv = c10k::testing::start_test_server(routes(s), backend_name(), o);
  http_client c(srv->port());
  auto r = c.request(get_with("/fiber-delay"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 504);
  EXPECT_EQ(r->body, "fiber: late\n");
  EXPECT_EQ(s.timed_out.load(), 1);
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(request_deadline_test);
