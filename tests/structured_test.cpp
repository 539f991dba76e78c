// Structured concurrency: join handles, when_all, when_any, task groups, scopes that cover
// many waits, deadlines, and cancellation reaching every kind of wait; each in a coroutine
// and on a fiber, on every backend.
#include <gtest/gtest.h>

#include <memory>

#include <array>
#include <atomic>
#include <stdexcept>
#include <string>
#include <system_error>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "backend_param.hpp"
#include "http_client.hpp"
#include "c10k/cross_channel.hpp"
#include "c10k/fiber.hpp"
#include "c10k/offload.hpp"
#include "c10k/sync.hpp"
#include "c10k/task_group.hpp"
#include "c10k/tcp_listener.hpp"
#include "c10k/tcp_stream.hpp"
#include "c10k/time.hpp"
#include "c10k/when.hpp"

using namespace c10k;
using namespace std::chrono_literals;

namespace {

class structured_test : public c10k::testing::backend_test {};

const std::error_code canceled = std::make_error_code(std::errc::operation_canceled);
const std::error_code timed_out = std::make_error_code(std::errc::timed_out);
// What a task waits for when only a cancellation should end its wait: long enough that its
// natural end means the cancellation never came, short enough that such a failure is quick.
constexpr auto long_wait = 2s;

// Counts the tasks alive: a task holds one for its whole life.
struct alive {
  explicit alive(int& n) : n_(n) { ++n_; }
  alive(const alive&) = delete;
  ~alive() { --n_; }
  int& n_;
};

// Sleeps for d, records how the sleep ended, returns value.
task<int> sleeper(int& live, std::error_code& why, clock::duration d, int value) {
  alive a(live);
  auto r = co_await sleep_for(d);
  why = r.error();
  co_return value;
}

// Sleeps for d, then throws.
task<int> thrower(int& live, clock::duration d) {
  alive a(live);
  (void)co_await sleep_for(d);
  throw std::runtime_error("child failed");
}

// The loop's tasks plus the fibers run on a fiber: fn runs there, the test waits for it.
template <typename F>
auto on_fiber(event_loop& loop, F fn) {
  auto h = spawn_fiber(loop, std::move(fn));
  return loop.block_on(h.join());
}

// A connected pair of loopback streams: {the accepted one, the connecting one}.
task<std::pair<tcp_stream, tcp_stream>> loopback_pair() {
  auto l = tcp_listener::bind(address::loopback(0));
  if (!l) throw std::system_error(l.error());
  auto [accepted, connected] = co_await when_all(l->accept(), connect(l->local_address()));
  co_return std::pair<tcp_stream, tcp_stream>(std::move(accepted).value(), std::move(connected).value());
}

}  // namespace

// --- join handles ------------------------------------------------------------------------

TEST_P(structured_test, a_join_handle_yields_the_value_or_rethrows_in_a_coroutine_and_on_a_fiber) {
  event_loop loop(backend_name());
  int live = 0;
  std::error_code why;
  EXPECT_EQ(loop.block_on([](int& live, std::error_code& why) -> task<int> {
              auto h = event_loop::current()->spawn(sleeper(live, why, 1ms, 7));
              co_return co_await h;
            }(live, why)),
            7);
  EXPECT_THROW(loop.block_on([](int& live) -> task<int> { co_return co_await event_loop::current()->spawn(thrower(live, 0ms)); }(live)),
               std::runtime_error);
  EXPECT_EQ(on_fiber(loop, [&] { return fiber::await(loop.spawn(sleeper(live, why, 1ms, 8))); }), 8);
  EXPECT_THROW(on_fiber(loop, [&] { return fiber::await(loop.spawn(thrower(live, 0ms))); }), std::runtime_error);
  EXPECT_EQ(live, 0);
}

TEST_P(structured_test, cancelling_the_waiter_ends_the_join_but_not_the_task_which_its_handle_cancels) {
  event_loop loop(backend_name());
  int live = 0;
  std::error_code why;
  auto check = [&](join_handle<int>& h, std::error_code joined) {
    EXPECT_EQ(joined, timed_out);  // the waiter's scope ended the join...
    EXPECT_FALSE(h.done());        // ...and the task runs on
    EXPECT_EQ(live, 1);
    h.cancel();
  };
  // In a coroutine.
  loop.block_on([](int& live, std::error_code& why, auto& check) -> task<> {
    auto h = event_loop::current()->spawn(sleeper(live, why, long_wait, 1));
    std::error_code joined;
    try {
      (void)co_await with_timeout(10ms, h.join());
    } catch (const std::system_error& e) {
      joined = e.code();
    }
    check(h, joined);
    EXPECT_EQ(co_await h, 1);  // the task ends once cancelled through its handle
  }(live, why, check));
  EXPECT_EQ(why, canceled);
  EXPECT_EQ(live, 0);
  // On a fiber.
  why = {};
  on_fiber(loop, [&] {
    auto h = loop.spawn(sleeper(live, why, long_wait, 2));
    std::error_code joined;
    try {
      (void)fiber::await(with_timeout(10ms, h.join()));
    } catch (const std::system_error& e) {
      joined = e.code();
    }
    check(h, joined);
    EXPECT_EQ(fiber::await(h), 2);
  });
  EXPECT_EQ(why, canceled);
  EXPECT_EQ(live, 0);
}

// --- when_any ------------------------------------------------------------------------------

TEST_P(structured_test, when_any_returns_the_first_and_cancels_and_joins_the_losers_in_a_coroutine) {
  event_loop loop(backend_name());
  int live = 0;
  std::array<std::error_code, 3> why;
  auto [index, value] = loop.block_on([](int& live, std::array<std::error_code, 3>& why) -> task<std::pair<std::size_t, int>> {
    auto r = co_await when_any(sleeper(live, why[0], long_wait, 10), sleeper(live, why[1], 1ms, 11), sleeper(live, why[2], long_wait, 12));
    EXPECT_EQ(live, 0);  // no task outlives when_any
    co_return std::pair<std::size_t, int>(r.first, std::get<1>(r.second));
  }(live, why));
  EXPECT_EQ(index, 1u);
  EXPECT_EQ(value, 11);
  EXPECT_EQ(why[0], canceled);
  EXPECT_FALSE(why[1]);
  EXPECT_EQ(why[2], canceled);

  // The range form.
  auto r = loop.block_on([](int& live, std::array<std::error_code, 3>& why) -> task<std::pair<std::size_t, int>> {
    std::vector<task<int>> ts;
    ts.push_back(sleeper(live, why[0], long_wait, 20));
    ts.push_back(sleeper(live, why[1], long_wait, 21));
    ts.push_back(sleeper(live, why[2], 1ms, 22));
    auto r = co_await when_any(std::move(ts));
    EXPECT_EQ(live, 0);
    co_return r;
  }(live, why));
  EXPECT_EQ(r, std::make_pair(std::size_t{2}, 22));
  EXPECT_EQ(why[0], canceled);
  EXPECT_EQ(why[1], canceled);
}

TEST_P(structured_test, when_any_returns_the_first_and_cancels_and_joins_the_losers_on_a_fiber) {
  event_loop loop(backend_name());
  int live = 0;
  std::array<std::error_code, 2> why;
  auto r = on_fiber(loop, [&] {
    auto r = fiber::await(when_any(sleeper(live, why[0], long_wait, 1), sleeper(live, why[1], 1ms, 2)));
    EXPECT_EQ(live, 0);
    return r;
  });
  EXPECT_EQ(r.first, 1u);
  EXPECT_EQ(std::get<1>(r.second), 2);
  EXPECT_EQ(why[0], canceled);
  // The winner's exception is rethrown, after the losers ended.
  EXPECT_THROW(on_fiber(loop, [&] { return fiber::await(when_any(sleeper(live, why[0], long_wait, 1), thrower(live, 1ms))); }),
               std::runtime_error);
  EXPECT_EQ(live, 0);
}

// --- when_all ------------------------------------------------------------------------------

TEST_P(structured_test, when_all_yields_every_value_and_its_first_failure_cancels_the_others) {
  event_loop loop(backend_name());
  int live = 0;
  std::array<std::error_code, 3> why;
  auto values = loop.block_on([](int& live, std::array<std::error_code, 3>& why) -> task<std::tuple<int, std::monostate, int>> {
    co_return co_await when_all(sleeper(live, why[0], 2ms, 1), []() -> task<> { co_return; }(), sleeper(live, why[1], 1ms, 3));
  }(live, why));
  EXPECT_EQ(std::get<0>(values), 1);
  EXPECT_EQ(std::get<2>(values), 3);
  // A failure cancels the others, which when_all still waits for, then rethrows.
  EXPECT_THROW(loop.block_on([](int& live, std::array<std::error_code, 3>& why) -> task<> {
                 try {
                   std::vector<task<int>> ts;
                   ts.push_back(sleeper(live, why[0], long_wait, 1));
                   ts.push_back(thrower(live, 1ms));
                   ts.push_back(sleeper(live, why[2], long_wait, 3));
                   (void)co_await when_all(std::move(ts));
                 } catch (...) {
                   EXPECT_EQ(live, 0);
                   throw;
                 }
               }(live, why)),
               std::runtime_error);
  EXPECT_EQ(why[0], canceled);
  EXPECT_EQ(why[2], canceled);
  // From a fiber.
  auto v = on_fiber(loop, [&] {
    std::vector<task<int>> ts;
    for (int i = 0; i < 4; ++i) ts.push_back(sleeper(live, why[0], 1ms, i));
    return fiber::await(when_all(std::move(ts)));
  });
  EXPECT_EQ(v, (std::vector<int>{0, 1, 2, 3}));
  EXPECT_EQ(live, 0);
}

TEST_P(structured_test, the_waiters_deadline_reaches_when_alls_tasks_which_see_it_as_theirs) {
  event_loop loop(backend_name());
  int live = 0;
  std::array<std::error_code, 2> why;
  auto child = [](int& live, std::error_code& why, clock::time_point& seen) -> task<int> {
    alive a(live);
    seen = (co_await current_scope())->deadline();
    why = (co_await sleep_for(long_wait)).error();
    co_return 0;
  };
  std::array<clock::time_point, 2> seen{};
  clock::time_point outer{};
  loop.block_on([](auto child, int& live, std::array<std::error_code, 2>& why, std::array<clock::time_point, 2>& seen,
                   clock::time_point& outer) -> task<> {
    cancel_scope s;
    s.set_timeout(20ms);
    outer = s.deadline();
    (void)co_await in_scope(s, when_all(child(live, why[0], seen[0]), child(live, why[1], seen[1])));
    EXPECT_EQ(live, 0);
  }(child, live, why, seen, outer));
  EXPECT_EQ(why[0], timed_out);
  EXPECT_EQ(why[1], timed_out);
  EXPECT_EQ(seen[0], outer);
  EXPECT_EQ(seen[1], outer);
}

// --- task_group ----------------------------------------------------------------------------

TEST_P(structured_test, a_groups_first_failure_cancels_its_siblings_and_join_rethrows_it_in_a_coroutine) {
  event_loop loop(backend_name());
  int live = 0;
  std::array<std::error_code, 2> why;
  std::string caught;
  loop.block_on([](int& live, std::array<std::error_code, 2>& why, std::string& caught) -> task<> {
    task_group g;
    g.spawn(sleeper(live, why[0], long_wait, 0));
    g.spawn(thrower(live, 1ms));
    g.spawn(sleeper(live, why[1], long_wait, 0));
    try {
      co_await g.join();
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
    EXPECT_EQ(live, 0);
    EXPECT_EQ(g.running(), 0u);
  }(live, why, caught));
  EXPECT_EQ(caught, "child failed");
  EXPECT_EQ(why[0], canceled);
  EXPECT_EQ(why[1], canceled);
}

TEST_P(structured_test, a_groups_first_failure_cancels_its_siblings_and_join_rethrows_it_on_a_fiber) {
  event_loop loop(backend_name());
  int live = 0;
  std::array<std::error_code, 2> why;
  std::string caught = on_fiber(loop, [&] {
    task_group g;
    g.spawn(sleeper(live, why[0], long_wait, 0));
    g.spawn(sleeper(live, why[1], long_wait, 0));
    g.spawn(thrower(live, 1ms));
    std::string caught;
    try {
      fiber::await(g.join());
    } catch (const std::runtime_error& e) {
      caught = e.what();
    }
    EXPECT_EQ(live, 0);
    return caught;
  });
  EXPECT_EQ(caught, "child failed");
  EXPECT_EQ(why[0], canceled);
  EXPECT_EQ(why[1], canceled);
}

TEST_P(structured_test, a_group_nested_in_a_scope_is_cancelled_with_it_and_join_still_waits_for_every_child) {
  event_loop loop(backend_name());
  int live = 0;
  std::array<std::error_code, 2> why;
  loop.block_on([](int& live, std::array<std::error_code, 2>& why) -> task<> {
    cancel_scope s;
    task_group g(&s);
    g.spawn(sleeper(live, why[0], long_wait, 0));
    g.spawn(sleeper(live, why[1], long_wait, 0));
    co_await sleep_for(1ms);  // both children wait now
    s.cancel(timed_out);
    co_await g.join();
    EXPECT_EQ(live, 0);
  }(live, why));
  EXPECT_EQ(why[0], timed_out);
  EXPECT_EQ(why[1], timed_out);
}

// --- scopes and deadlines ------------------------------------------------------------------

TEST_P(structured_test, one_scope_ends_every_wait_registered_with_it) {
  event_loop loop(backend_name());
  cancel_scope s;
  mutex m;
  event e;
  std::array<std::error_code, 3> why;
  int ended = 0;
  ASSERT_TRUE(m.try_lock());
  // Two fibers and a coroutine wait in the same scope at once, each on something else.
  auto f1 = spawn_fiber(loop, [&] {
    fiber::set_scope(&s);
    why[0] = fiber::await(sleep_for(long_wait)).error();
    ++ended;
  });
  auto f2 = spawn_fiber(loop, [&] {
    fiber::set_scope(&s);
    why[1] = fiber::await(m.lock()).error();
    ++ended;
  });
  loop.spawn([](cancel_scope& s, event& e, std::error_code& why, int& ended) -> task<> {
    why = (co_await in_scope(s, e.wait())).error();
    ++ended;
  }(s, e, why[2], ended));
  ASSERT_TRUE(loop.block_on(sleep_for(2ms)));
  EXPECT_EQ(ended, 0);
  s.cancel();
  ASSERT_TRUE(loop.block_on(sleep_for(2ms)));
  EXPECT_EQ(ended, 3);
  for (auto& w : why) EXPECT_EQ(w, canceled);
}

TEST_P(structured_test, a_deadline_is_inherited_by_nested_scopes_and_read_as_the_remaining_budget) {
  event_loop loop(backend_name());
  loop.block_on([]() -> task<> {
    cancel_scope outer;
    EXPECT_FALSE(outer.has_deadline());
    EXPECT_EQ(outer.remaining(), clock::duration::max());
    outer.set_timeout(1h);
    cancel_scope inner;
    inner.set_timeout(2h);  // looser than the outer: the outer's applies inside
    auto seen = co_await in_scope(outer, [](cancel_scope& inner) -> task<clock::time_point> {
      co_return co_await in_scope(inner, []() -> task<clock::time_point> { co_return (co_await current_scope())->deadline(); }());
    }(inner));
    EXPECT_EQ(seen, outer.deadline());
    EXPECT_GT(outer.remaining(), 59min);
    EXPECT_LE(outer.remaining(), 1h);
    outer.set_timeout(2h);  // a later deadline never loosens an earlier one
    EXPECT_LE(outer.remaining(), 1h);
  }());
}

TEST_P(structured_test, a_deadline_ends_a_read_in_flight_and_a_sleep_in_a_coroutine_and_on_a_fiber) {
  event_loop loop(backend_name());
  auto [server_side, client_side] = loop.block_on(loopback_pair());
  // Coroutine: a read the peer never answers, under a scope's deadline.
  auto r = loop.block_on([](tcp_stream& s) -> task<result<std::size_t>> {
    cancel_scope scope;
    scope.set_timeout(20ms);
    std::array<char, 16> buf;
    auto n = co_await in_scope(scope, s.read(buf));
    EXPECT_EQ(scope.remaining(), clock::duration::zero());
    co_return n;
  }(server_side));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), timed_out);
  // Fiber: the fiber's scope carries the deadline; a read and then a sleep end with it.
  auto errors = on_fiber(loop, [&client_side] {
    cancel_scope scope;
    scope.set_timeout(20ms);
    fiber::set_scope(&scope);
    std::array<char, 16> buf;
    auto n = fiber::await(client_side.read(buf));
    auto slept = fiber::await(sleep_for(long_wait));
    fiber::set_scope(nullptr);
    return std::make_pair(n.error(), slept.error());
  });
  EXPECT_EQ(errors.first, timed_out);
  EXPECT_EQ(errors.second, timed_out);  // later waits in the scope fail at once
}

// --- cancellation reaches every wait -------------------------------------------------------

namespace {
// The waits of the runtime, each set up never to complete by itself; returns how each ended
// under a 10 ms timeout, in a coroutine.
// What the offloaded jobs of the every-wait test share with it: they spin until `open`, then
// count themselves in `finished`; the test waits for both, so no job outlives it (a job a
// loaded machine started late once spun on the dead test's stack, and the process hung at
// exit). The jobs capture a plain pointer: GCC 12 destroys a lambda temporary with a
// non-trivial capture (a shared_ptr) twice inside a co_await expression.
struct job_gate {
  std::atomic<bool> open{false};
  std::atomic<int> finished{0};
};

task<std::vector<std::error_code>> every_wait_in_a_coroutine(mutex& m, semaphore& sem, cross_channel<int>& ch,
                                                             job_gate& release, fiber_handle<void>& f,
                                                             join_handle<int>& h) {
  std::vector<std::error_code> out;
  out.push_back((co_await with_timeout(10ms, m.lock())).error());
  out.push_back((co_await with_timeout(10ms, m.scoped_lock())).error());
  out.push_back((co_await with_timeout(10ms, sem.acquire())).error());
  out.push_back((co_await with_timeout(10ms, ch.receive())).error());
  out.push_back((co_await with_timeout(10ms, offload([gate = &release] {
                   while (!gate->open.load()) std::this_thread::sleep_for(1ms);
                   ++gate->finished;
                 }))).error());
  try {
    co_await with_timeout(10ms, f.join());
    out.push_back({});
  } catch (const std::system_error& e) {
    out.push_back(e.code());
  }
  try {
    (void)co_await with_timeout(10ms, h.join());
    out.push_back({});
  } catch (const std::system_error& e) {
    out.push_back(e.code());
  }
  co_return out;
}

std::vector<std::error_code> every_wait_on_a_fiber(mutex& m, semaphore& sem, cross_channel<int>& ch,
                                                   job_gate& release,
                                                   fiber_handle<void>& f, join_handle<int>& h) {
  std::vector<std::error_code> out;
  out.push_back(fiber::await(with_timeout(10ms, m.lock())).error());
  out.push_back(fiber::await(with_timeout(10ms, m.scoped_lock())).error());
  out.push_back(fiber::await(with_timeout(10ms, sem.acquire())).error());
  out.push_back(fiber::await(with_timeout(10ms, ch.receive())).error());
  out.push_back(fiber::await(with_timeout(10ms, offload([gate = &release] {
                                while (!gate->open.load()) std::this_thread::sleep_for(1ms);
                                ++gate->finished;
                              }))).error());
  try {
    fiber::await(with_timeout(10ms, f.join()));
    out.push_back({});
  } catch (const std::system_error& e) {
    out.push_back(e.code());
  }
  try {
    (void)fiber::await(with_timeout(10ms, h.join()));
    out.push_back({});
  } catch (const std::system_error& e) {
    out.push_back(e.code());
  }
  return out;
}
}  // namespace

TEST_P(structured_test, cancellation_reaches_mutex_semaphore_channel_offload_and_joins_in_both_modes) {
  event_loop loop(backend_name());
  mutex m;
  ASSERT_TRUE(m.try_lock());
  semaphore sem(0);
  cross_channel<int> ch(1);
  job_gate release;  // the offloaded jobs outlive the waits cancelled on them, not the test
  int live = 0;
  std::error_code why;
  auto f = spawn_fiber(loop, [&] { (void)fiber::sleep_for(1h); });
  auto h = loop.spawn(sleeper(live, why, 1h, 0));
  for (int mode = 0; mode < 2; ++mode) {
    std::vector<std::error_code> got =
        mode == 0 ? loop.block_on(every_wait_in_a_coroutine(m, sem, ch, release, f, h))
                  : on_fiber(loop, [&] { return every_wait_on_a_fiber(m, sem, ch, release, f, h); });
    ASSERT_EQ(got.size(), 7u);
    for (std::size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], timed_out) << "mode " << mode << ", wait " << i;
  }
  // The waits left nothing queued: the mutex passes to the next locker, the channel to the
  // next receiver.
  m.unlock();
  EXPECT_FALSE(m.locked());
  int one = 1;
  ASSERT_TRUE(ch.try_send(one));
  EXPECT_EQ(ch.try_receive(), 1);
  release.open = true;
  // Both offloaded jobs end before the test does (one a loaded machine started late included).
  EXPECT_TRUE(c10k::testing::eventually([&] { return release.finished.load() == 2; }));
  f.cancel();
  h.cancel();
  loop.block_on(f.join());
  EXPECT_EQ(loop.block_on(h.join()), 0);
  EXPECT_EQ(live, 0);
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(structured_test);
