#include "c10k/fiber.hpp"

#include <gtest/gtest.h>

#include <array>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "backend_param.hpp"
#include "c10k/log.hpp"
#include "c10k/offload.hpp"
#include "c10k/sync.hpp"
#include "c10k/tcp_listener.hpp"
#include "c10k/tcp_stream.hpp"
#include "c10k/time.hpp"

using namespace c10k;
using namespace std::chrono_literals;

namespace {

class fiber_test : public c10k::testing::backend_test {};

task<int> answer_later(std::chrono::milliseconds d, int value) {
  co_await sleep_for(d);
  co_return value;
}

task<int> fail_later(std::chrono::milliseconds d) {
  co_await sleep_for(d);
  throw std::runtime_error("task failed");
}

}  // namespace

TEST_P(fiber_test, ten_thousand_fibers_are_alive_at_once_and_all_complete) {
  event_loop loop(backend_name());
  constexpr int n = 10'000;
  int alive = 0;
  int peak = 0;
  int finished = 0;
  event go;
  wait_group all;
  all.add(n);
  for (int i = 0; i < n; ++i) {
    // Detached: dropping the handle leaves the fiber to its loop.
    (void)spawn_fiber(loop, [&, i] {
      peak = std::max(peak, ++alive);
      if (i % 2 == 0) EXPECT_TRUE(fiber::sleep_for(20ms));
      else EXPECT_TRUE(fiber::await(go.wait()));
      --alive;
      ++finished;
      all.done();
    });
  }
  loop.spawn([](event& go) -> task<> {
    co_await sleep_for(10ms);
    go.set();
  }(go));
  EXPECT_TRUE(loop.block_on(all.wait()));
  EXPECT_EQ(finished, n);
  EXPECT_EQ(peak, n);
  EXPECT_EQ(alive, 0);
  loop.block_on(sleep_for(1ms));  // the loop's own bookkeeping of ended fibers
  EXPECT_EQ(loop.task_count(), 0u);
}

TEST_P(fiber_test, stacks_come_back_to_the_pool_and_are_reused) {
  event_loop loop(backend_name());
  auto run_one = [&] {
    auto h = spawn_fiber(loop, [] {
      volatile char touch[1024];
      touch[0] = 1;
      return touch[0] + 1;
    });
    return loop.block_on([](fiber_handle<int> h) -> task<int> { co_return co_await h.join(); }(h));
  };
  EXPECT_EQ(run_one(), 2);  // leaves at least one stack in the pool
  const auto before = fiber_stack_pool::local().counters();
  ASSERT_GE(before.pooled, 1u);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(run_one(), 2);
  const auto after = fiber_stack_pool::local().counters();
  EXPECT_EQ(after.allocated, before.allocated);
  EXPECT_EQ(after.reused, before.reused + 5);
  EXPECT_EQ(after.in_use, before.in_use);
}

TEST_P(fiber_test, join_from_a_coroutine_yields_the_value_after_the_fiber_parked) {
  event_loop loop(backend_name());
  auto h = spawn_fiber(loop, [] {
    EXPECT_TRUE(fiber::in_fiber());
    EXPECT_TRUE(fiber::sleep_for(5ms));
    return std::string("from a fiber");
  });
  EXPECT_FALSE(h.done());
  auto s = loop.block_on([](fiber_handle<std::string> h) -> task<std::string> { co_return co_await h.join(); }(h));
  EXPECT_EQ(s, "from a fiber");
  EXPECT_TRUE(h.done());
}

TEST_P(fiber_test, an_exception_crosses_from_a_fiber_to_the_coroutine_that_joins) {
  event_loop loop(backend_name());
  auto h = spawn_fiber(loop, []() -> int {
    (void)fiber::sleep_for(1ms);
    throw std::runtime_error("fiber failed");
  });
  EXPECT_THROW(
      {
        try {
          loop.block_on([](fiber_handle<int> h) -> task<int> { co_return co_await h.join(); }(h));
        } catch (const std::runtime_error& e) {
          EXPECT_STREQ(e.what(), "fiber failed");
          throw;
        }
      },
      std::runtime_error);
}

TEST_P(fiber_test, an_exception_crosses_from_a_task_into_the_fiber_that_awaits_it) {
  event_loop loop(backend_name());
  auto h = spawn_fiber(loop, [] {
    EXPECT_EQ(fiber::await(answer_later(2ms, 42)), 42);
    try {
      (void)fiber::await(fail_later(2ms));
    } catch (const std::runtime_error& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  });
  auto s = loop.block_on([](fiber_handle<std::string> h) -> task<std::string> { co_return co_await h.join(); }(h));
  EXPECT_EQ(s, "task failed");
}

TEST_P(fiber_test, a_fiber_joins_another_fiber) {
  event_loop loop(backend_name());
  auto inner = spawn_fiber(loop, [] {
    (void)fiber::sleep_for(3ms);
    return 7;
  });
  auto outer = spawn_fiber(loop, [inner] { return fiber::await(inner.join()) * 6; });
  EXPECT_EQ(loop.block_on([](fiber_handle<int> h) -> task<int> { co_return co_await h.join(); }(outer)), 42);
}

TEST_P(fiber_test, a_failing_fiber_nobody_joins_is_logged) {
  std::vector<std::string> lines;
  auto previous = set_log_sink([&](log_level, std::string_view line) { lines.emplace_back(line); });
  {
    event_loop loop(backend_name());
    (void)spawn_fiber(loop, [] { throw std::runtime_error("fiber exploded"); });
    loop.block_on(sleep_for(2ms));
  }
  set_log_sink(previous);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("fiber exploded"), std::string::npos);
}

TEST_P(fiber_test, destroying_the_loop_unwinds_fibers_still_parked) {
  auto token = std::make_shared<int>(0);
  bool unwound = false;
  {
    event_loop loop(backend_name());
    (void)spawn_fiber(loop, [token, &unwound] {
      struct on_exit {
        bool& flag;
        ~on_exit() { flag = true; }
      } guard{unwound};
      (void)fiber::sleep_for(1h);
      ADD_FAILURE() << "the sleep ended";
    });
    loop.block_on(sleep_for(2ms));
    EXPECT_EQ(token.use_count(), 2);
    EXPECT_FALSE(unwound);
  }
  EXPECT_TRUE(unwound);
  EXPECT_EQ(token.use_count(), 1);
}

TEST_P(fiber_test, a_fiber_blocked_on_a_socket_read_lets_coroutines_run) {
  event_loop loop(backend_name());
  auto l = tcp_listener::bind(address::loopback(0));
  ASSERT_TRUE(l) << l.error().message();
  int ticks = 0;
  int ticks_when_data_arrived = -1;
  auto server = spawn_fiber(loop, [&] {
    auto s = fiber::await(l->accept());
    if (!s) return std::string("accept failed: ") + s.error().message();
    std::array<char, 64> buf;
    auto n = fiber::await(s->read(buf));  // parks the fiber, not the loop
    ticks_when_data_arrived = ticks;
    if (!n) return std::string("read failed: ") + n.error().message();
    return std::string(buf.data(), *n);
  });
  loop.spawn([](int& ticks) -> task<> {
    for (int i = 0; i < 10; ++i) {
      co_await sleep_for(1ms);
      ++ticks;
    }
  }(ticks));
  auto got = loop.block_on([](address to, fiber_handle<std::string> server, int& ticks) -> task<std::string> {
    auto s = co_await connect(to);
    if (!s) co_return "connect failed";
    while (ticks < 5) co_await sleep_for(1ms);
    if (!co_await s->write_all("hello")) co_return "write failed";
    co_return co_await server.join();
  }(l->local_address(), server, ticks));
  EXPECT_EQ(got, "hello");
  EXPECT_GE(ticks_when_data_arrived, 5);
}

TEST_P(fiber_test, a_fiber_receives_into_a_lent_buffer_and_writes_with_a_task) {
  event_loop loop(backend_name());
  auto l = tcp_listener::bind(address::loopback(0));
  ASSERT_TRUE(l) << l.error().message();
  auto server = spawn_fiber(loop, [&] {
    auto s = fiber::await(l->accept());
    if (!s) return false;
    auto got = fiber::await(s->receive());  // a receive_awaiter: the buffer is lent only once data is there
    if (!got || got->empty()) return false;
    std::string reply = "got " + std::string(got->view());
    return static_cast<bool>(fiber::await(s->write_all(reply)));  // a task<result<size_t>>
  });
  auto reply = loop.block_on([](address to) -> task<std::string> {
    auto s = co_await connect(to);
    if (!s) co_return "connect failed";
    if (!co_await s->write_all("ping")) co_return "write failed";
    std::array<char, 64> buf;
    std::string out;
    while (out.size() < 8) {
      auto n = co_await s->read(buf);
      if (!n || *n == 0) break;
      out.append(buf.data(), *n);
    }
    co_return out;
  }(l->local_address()));
  EXPECT_EQ(reply, "got ping");
  EXPECT_TRUE(loop.block_on([](fiber_handle<bool> h) -> task<bool> { co_return co_await h.join(); }(server)));
}

TEST_P(fiber_test, with_timeout_and_in_scope_work_from_a_fiber) {
  event_loop loop(backend_name());
  auto h = spawn_fiber(loop, [] {
    auto r = fiber::await(with_timeout(5ms, sleep_for(1h)));
    EXPECT_EQ(r.error(), std::errc::timed_out);
    cancel_scope scope;
    scope.cancel();
    auto r2 = fiber::await(in_scope(scope, sleep_for(1h)));
    EXPECT_EQ(r2.error(), std::errc::operation_canceled);
    return r.error() == std::errc::timed_out;
  });
  EXPECT_TRUE(loop.block_on([](fiber_handle<bool> h) -> task<bool> { co_return co_await h.join(); }(h)));
}

TEST_P(fiber_test, yield_lets_other_waiters_run_first) {
  event_loop loop(backend_name());
  std::vector<int> order;
  auto h = spawn_fiber(loop, [&] {
    order.push_back(1);
    fiber::yield();
    order.push_back(3);
  });
  loop.spawn([](std::vector<int>& order) -> task<> {
    order.push_back(2);
    co_return;
  }(order));
  loop.block_on([](fiber_handle<void> h) -> task<> { co_await h.join(); }(h));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST_P(fiber_test, offload_resumes_a_coroutine_and_a_fiber_on_their_loop) {
  event_loop loop(backend_name());
  const auto loop_thread = std::this_thread::get_id();
  auto fiber_side = spawn_fiber(loop, [&] {
    auto helper = *fiber::await(offload([] { return std::this_thread::get_id(); }));
    EXPECT_NE(helper, loop_thread);
    return std::this_thread::get_id();
  });
  auto coroutine_side = loop.block_on([](std::thread::id loop_thread) -> task<std::thread::id> {
    auto helper = *co_await offload([] { return std::this_thread::get_id(); });
    EXPECT_NE(helper, loop_thread);
    co_return std::this_thread::get_id();
  }(loop_thread));
  EXPECT_EQ(coroutine_side, loop_thread);
  auto resumed_on = loop.block_on([](fiber_handle<std::thread::id> h) -> task<std::thread::id> {
    co_return co_await h.join();
  }(fiber_side));
  EXPECT_EQ(resumed_on, loop_thread);
}

TEST(fiber, await_outside_a_fiber_is_rejected_not_a_hang) {
  event_loop loop;
  EXPECT_FALSE(fiber::in_fiber());
  EXPECT_THROW((void)fiber::await(sleep_for(1ms)), std::logic_error);
  EXPECT_THROW(fiber::yield(), std::logic_error);
  EXPECT_THROW((void)fiber::sleep_for(1ms), std::logic_error);
  try {
    (void)fiber::await(answer_later(1ms, 1));
    ADD_FAILURE() << "no exception";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("outside a fiber"), std::string::npos);
  }
  // From a coroutine too: a coroutine must co_await instead.
  EXPECT_THROW(loop.block_on([]() -> task<> {
    (void)fiber::await(sleep_for(1ms));
    co_return;
  }()),
               std::logic_error);
}

namespace {
// Recurses until the stack runs out; the volatile buffer keeps every frame on the stack.
int recurse(int depth) {
  volatile char frame[512];
  frame[0] = static_cast<char>(depth);
  if (depth == -1) return 0;  // never: keeps the recursion from being turned into a loop
  return recurse(depth + 1) + frame[0];
}
}  // namespace

TEST(fiber_death, a_stack_overflow_names_the_fiber_and_its_stack_size) {
#if defined(__SANITIZE_ADDRESS__)
  // ASan lets the program install its own SIGSEGV handler unless told otherwise.
  if (const char* o = std::getenv("ASAN_OPTIONS"); o && std::strstr(o, "allow_user_segv_handler=0"))
    GTEST_SKIP() << "ASAN_OPTIONS=allow_user_segv_handler=0 keeps the sanitizer's SIGSEGV handler in place of c10k's";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        event_loop loop;
        auto h = spawn_fiber(loop, [] { return recurse(0); }, {.stack_size = 16 * 1024, .name = "deep-recursion"});
        loop.block_on([](fiber_handle<int> h) -> task<int> { co_return co_await h.join(); }(h));
      },
      "c10k: fiber deep-recursion overflowed its 16 KiB stack");
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(fiber_test);
