// Timers: the timer_heap on its own, and timers through the loop (a sleep that fires, a
// timeout that is cancelled because the thing it guarded finished first).
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "c10k/detail/timer_heap.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/task.hpp"
#include "c10k/time.hpp"
#include "loop_bench.hpp"

namespace c10k::micro {
namespace {

void never_fires(timer_entry*) {}

// A fixed seed: every run shuffles the same way, so runs compare.
std::vector<std::size_t> shuffled_indices(std::size_t n) {
  std::vector<std::size_t> v(n);
  std::iota(v.begin(), v.end(), std::size_t{0});
  std::shuffle(v.begin(), v.end(), std::mt19937_64(42));
  return v;
}

// Inserting a timer and firing it, per operation, with N timers pending: the batch pushes N
// entries with deadlines in shuffled order (so a push sifts up a realistic distance rather
// than always landing at the bottom), then pops every one as due. Entries live in a vector
// made once, so no allocation is measured; the heap's own vector keeps its capacity.
void BM_timer_heap_insert_fire(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<timer_entry> entries(n);
  const auto order = shuffled_indices(n);
  const clock::time_point base{};
  for (std::size_t i = 0; i < n; ++i) {
    entries[i].deadline = base + std::chrono::nanoseconds(order[i]);
    entries[i].fire = never_fires;
  }
  const clock::time_point all_due = base + std::chrono::nanoseconds(n);
  timer_heap heap;
  while (state.KeepRunningBatch(static_cast<std::int64_t>(n))) {
    for (auto& e : entries) heap.push(e);
    while (timer_entry* t = heap.pop_due(all_due)) benchmark::DoNotOptimize(t);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_timer_heap_insert_fire)->ArgName("timers")->Arg(1024)->Arg(16384);

// Cancelling a pending timer and arming it again, per operation, with N timers pending: the
// path of a connection deadline that never fires (each request on a connection removes the
// connection's deadline and sets a later one). The timer removed is a random one, as it is
// whichever connection finished a request, so removal sifts from anywhere in the heap; the new
// deadline is later than every pending one, as now + timeout is. The picks are drawn with
// repetition, not as a fixed permutation: cycling one permutation would, from the second
// cycle on, always remove the earliest deadline (the root), which is a different workload.
void BM_timer_heap_cancel_rearm(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  std::vector<timer_entry> entries(n);
  clock::time_point next{};
  timer_heap heap;
  for (auto& e : entries) {
    e.deadline = next;
    next += std::chrono::nanoseconds(1);
    e.fire = never_fires;
    heap.push(e);
  }
  // Drawn up front so the random number generator is not measured.
  std::vector<std::uint32_t> picks(64 * 1024);
  std::mt19937_64 rng(42);
  std::uniform_int_distribution<std::uint32_t> any(0, static_cast<std::uint32_t>(n - 1));
  for (auto& p : picks) p = any(rng);
  std::size_t i = 0;
  for (auto _ : state) {
    timer_entry& e = entries[picks[i]];
    heap.remove(e);
    e.deadline = next;
    next += std::chrono::nanoseconds(1);
    heap.push(e);
    if (++i == picks.size()) i = 0;
  }
  benchmark::DoNotOptimize(heap.top());
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_timer_heap_cancel_rearm)->ArgName("timers")->Arg(1024)->Arg(16384);

// Sleeps until a deadline that has already passed, forever, counting each wake-up. Every
// deadline is later than the one before it, as now + d is on a real loop.
task<> sleep_worker(countdown& c, std::int64_t& ticks) {
  for (;;) {
    co_await sleep_until(clock::time_point{} + std::chrono::nanoseconds(++ticks));
    c.tick();
  }
}

// A sleep through the loop, per operation: the coroutine's sleep_awaiter arms a timer on the
// loop's heap and suspends; the next turn finds it due, fires it (which queues the waiter) and
// resumes the coroutine in the same turn. Compare with BM_coroutine_resume at the same count:
// the difference is the timer's insert + fire.
void BM_timer_sleep_fire(benchmark::State& state) {
  const std::int64_t workers = state.range(0);
  event_loop loop(backend_name);
  countdown c{loop};
  std::int64_t ticks = 0;
  for (std::int64_t i = 0; i < workers; ++i) loop.spawn(sleep_worker(c, ticks));
  warm_up(c, workers);
  run_batches(state, c, batch_for(workers));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_timer_sleep_fire)->ArgName("coroutines")->Arg(1024);

// Awaits a requeue under a long timeout, forever: the timeout never fires.
task<> timeout_worker(countdown& c) {
  for (;;) {
    co_await with_timeout(std::chrono::hours(1), requeue(c.loop));
    c.tick();
  }
}

// A timeout that is cancelled before it fires, through the loop, per operation: with_timeout
// arms a timer and a cancel scope around an awaiter that completes on the next turn (as a
// read that finds its data would), then removes the timer. The other coroutines' timeouts are
// pending meanwhile, so the heap holds as many timers as there are coroutines. Compare with
// BM_coroutine_resume at the same count: the difference is the timeout's arm + cancel.
void BM_timer_timeout_cancel(benchmark::State& state) {
  const std::int64_t workers = state.range(0);
  event_loop loop(backend_name);
  countdown c{loop};
  for (std::int64_t i = 0; i < workers; ++i) loop.spawn(timeout_worker(c));
  warm_up(c, workers);
  run_batches(state, c, batch_for(workers));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_timer_timeout_cancel)->ArgName("coroutines")->Arg(1024);

}  // namespace
}  // namespace c10k::micro
