#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "c10k/detail/frame_allocator.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/task.hpp"

using namespace c10k;

namespace {

task<int> answer() { co_return 42; }

task<int> add_one(int x) { co_return x + 1; }

task<void> record(std::vector<std::string>& log, std::string what) {
  log.push_back(what);
  co_return;
}

task<int> throws_runtime_error() {
  throw std::runtime_error("boom");
  co_return 0;
}

task<int> sum_of_synchronous_awaits(int n) {
  int total = 0;
  for (int i = 0; i < n; ++i) total += co_await add_one(0);
  co_return total;
}

task<long> nested(int depth) {
  if (depth == 0) co_return 0;
  co_return 1 + co_await nested(depth - 1);
}

}  // namespace

TEST(task, does_not_run_until_awaited) {
  std::vector<std::string> log;
  event_loop loop;
  auto t = record(log, "ran");
  EXPECT_TRUE(log.empty());
  loop.block_on([](task<void> inner, std::vector<std::string>& log) -> task<void> {
    log.push_back("before");
    co_await std::move(inner);
    log.push_back("after");
  }(std::move(t), log));
  EXPECT_EQ(log, (std::vector<std::string>{"before", "ran", "after"}));
}

TEST(task, yields_its_value_to_the_awaiter) {
  event_loop loop;
  EXPECT_EQ(loop.block_on(answer()), 42);
}

TEST(task, carries_an_exception_to_the_awaiter) {
  event_loop loop;
  auto caller = []() -> task<std::string> {
    try {
      co_await throws_runtime_error();
    } catch (const std::runtime_error& e) {
      co_return e.what();
    }
    co_return "no exception";
  };
  EXPECT_EQ(loop.block_on(caller()), "boom");
}

TEST(task, block_on_rethrows_what_the_task_threw) {
  event_loop loop;
  EXPECT_THROW(loop.block_on(throws_runtime_error()), std::runtime_error);
}

TEST(task, a_million_synchronous_awaits_in_a_loop_run_in_constant_stack) {
  event_loop loop;
  EXPECT_EQ(loop.block_on(sum_of_synchronous_awaits(1'000'000)), 1'000'000);
}

TEST(task, a_chain_a_million_awaits_deep_runs_in_constant_stack) {
  event_loop loop;
  EXPECT_EQ(loop.block_on(nested(1'000'000)), 1'000'000);
}

TEST(task, destroying_an_unstarted_task_frees_its_frame_and_arguments) {
  auto shared = std::make_shared<int>(7);
  {
    auto t = [](std::shared_ptr<int> p) -> task<int> { co_return *p; }(shared);
    EXPECT_EQ(shared.use_count(), 2);
  }
  EXPECT_EQ(shared.use_count(), 1);
}

TEST(task, frames_are_recycled_by_the_per_thread_allocator) {
  event_loop loop;
  loop.block_on(sum_of_synchronous_awaits(10));
  const auto before = frame_allocator::recycled_count();
  loop.block_on(sum_of_synchronous_awaits(1000));
  EXPECT_GE(frame_allocator::recycled_count() - before, 1000u);
}
