#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "backend_param.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/log.hpp"
#include "c10k/time.hpp"

using namespace c10k;
using namespace std::chrono_literals;

namespace {

class event_loop_test : public c10k::testing::backend_test {};

task<void> append_after(std::chrono::milliseconds d, std::vector<int>& order, int value) {
  co_await sleep_for(d);
  order.push_back(value);
}

}  // namespace

TEST_P(event_loop_test, spawned_tasks_run_on_the_loop_in_spawn_order) {
  event_loop loop(backend_name());
  std::vector<int> order;
  loop.spawn(append_after(0ms, order, 1));
  loop.spawn(append_after(0ms, order, 2));
  EXPECT_TRUE(order.empty());  // spawn does not run the task inline
  loop.block_on(sleep_for(20ms));
  EXPECT_EQ(order, (std::vector<int>{1, 2}));
  EXPECT_EQ(loop.task_count(), 0u);
}

TEST_P(event_loop_test, timers_fire_in_deadline_order_not_creation_order) {
  event_loop loop(backend_name());
  std::vector<int> order;
  loop.spawn(append_after(30ms, order, 3));
  loop.spawn(append_after(10ms, order, 1));
  loop.spawn(append_after(20ms, order, 2));
  loop.block_on(sleep_for(60ms));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST_P(event_loop_test, sleep_for_waits_at_least_its_duration) {
  event_loop loop(backend_name());
  const auto start = clock::now();
  auto r = loop.block_on([]() -> task<result<void>> { co_return co_await sleep_for(25ms); }());
  EXPECT_TRUE(r);
  EXPECT_GE(clock::now() - start, 25ms);
}

TEST_P(event_loop_test, a_failing_detached_task_is_logged_not_lost) {
  std::vector<std::string> lines;
  auto previous = set_log_sink([&](log_level, std::string_view line) { lines.emplace_back(line); });
  {
    event_loop loop(backend_name());
    loop.spawn([]() -> task<void> {
      throw std::runtime_error("handler exploded");
      co_return;
    }());
    loop.block_on(sleep_for(1ms));
  }
  set_log_sink(previous);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("handler exploded"), std::string::npos);
}

TEST_P(event_loop_test, destroying_the_loop_destroys_tasks_still_waiting) {
  auto token = std::make_shared<int>(0);
  {
    event_loop loop(backend_name());
    loop.spawn([](std::shared_ptr<int>) -> task<void> { co_await sleep_for(1h); }(token));
    loop.block_on(sleep_for(1ms));
    EXPECT_EQ(token.use_count(), 2);
    EXPECT_EQ(loop.task_count(), 1u);
  }
  EXPECT_EQ(token.use_count(), 1);
}

TEST_P(event_loop_test, with_timeout_cancels_a_sleep_and_reports_timed_out) {
  event_loop loop(backend_name());
  const auto start = clock::now();
  auto r = loop.block_on([]() -> task<result<void>> { co_return co_await with_timeout(10ms, sleep_for(1h)); }());
  EXPECT_EQ(r.error(), std::errc::timed_out);
  EXPECT_LT(clock::now() - start, 1s);
}

TEST_P(event_loop_test, with_timeout_passes_through_what_finishes_in_time) {
  event_loop loop(backend_name());
  auto r = loop.block_on([]() -> task<result<void>> { co_return co_await with_timeout(1h, sleep_for(1ms)); }());
  EXPECT_TRUE(r);
}

TEST_P(event_loop_test, with_timeout_reaches_the_operation_a_task_is_waiting_on) {
  event_loop loop(backend_name());
  auto slow = []() -> task<int> {
    int finished = 0;
    for (int i = 0; i < 3; ++i) {
      auto r = co_await sleep_for(i == 0 ? 1ms : 1h);
      if (!r) co_return -finished;  // cut short: later sleeps fail at once too
      ++finished;
    }
    co_return finished;
  };
  EXPECT_EQ(loop.block_on([&]() -> task<int> { co_return co_await with_timeout(20ms, slow()); }()), -1);
}

TEST_P(event_loop_test, a_cancel_scope_ends_the_wait_with_its_reason) {
  event_loop loop(backend_name());
  cancel_scope scope;
  loop.spawn([](cancel_scope& s) -> task<void> {
    co_await sleep_for(5ms);
    s.cancel();
  }(scope));
  auto r = loop.block_on([](cancel_scope& s) -> task<result<void>> { co_return co_await in_scope(s, sleep_for(1h)); }(scope));
  EXPECT_EQ(r.error(), std::errc::operation_canceled);
}

TEST_P(event_loop_test, post_from_another_thread_runs_on_the_loop_thread) {
  event_loop loop(backend_name());
  std::thread::id ran_on;
  std::atomic<int> count{0};
  std::thread poster([&] {
    for (int i = 0; i < 100; ++i)
      loop.post([&] {
        ran_on = std::this_thread::get_id();
        if (++count == 100) loop.stop();
      });
  });
  loop.run();  // no timers, nothing ready: only the posts' wake-up can end this
  poster.join();
  EXPECT_EQ(count.load(), 100);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
}

TEST_P(event_loop_test, stop_from_another_thread_wakes_a_sleeping_loop) {
  event_loop loop(backend_name());
  std::thread stopper([&] {
    std::this_thread::sleep_for(10ms);
    loop.stop();
  });
  loop.run();
  stopper.join();
  SUCCEED();  // reaching here is the assertion: run() returned
}

TEST_P(event_loop_test, yield_lets_other_ready_tasks_run_first) {
  event_loop loop(backend_name());
  std::vector<int> order;
  loop.spawn([](std::vector<int>& o) -> task<void> {
    o.push_back(1);
    co_await yield{};
    o.push_back(3);
  }(order));
  loop.spawn([](std::vector<int>& o) -> task<void> {
    o.push_back(2);
    co_return;
  }(order));
  loop.block_on(sleep_for(5ms));
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(event_loop_test);

TEST(event_loop, an_unknown_backend_name_is_an_error) {
  EXPECT_THROW(event_loop("kqueue"), std::system_error);
  ready_queue q;
  EXPECT_EQ(make_backend("kqueue", q).error(), std::errc::invalid_argument);
}
