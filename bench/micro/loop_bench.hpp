// Helpers shared by the benchmarks that drive an event_loop.
//
// Most loop benchmarks keep a fixed set of workers (coroutines or fibers) alive for the whole
// benchmark, each of which waits, wakes and counts one operation, forever. Google Benchmark
// asks for a batch of N operations at a time (KeepRunningBatch); the batch runs the loop until
// the countdown reaches zero, at which point the worker that took it to zero stops the loop.
// Keeping the workers alive between batches means no spawn or frame allocation leaks into a
// number that is meant to be a resume, a switch or a timer.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>

#include "c10k/cancel.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/waiter.hpp"

namespace c10k::micro {

// The backend every loop benchmark uses: single-threaded, readiness-based, available everywhere.
inline constexpr const char* backend_name = "epoll";

// An awaiter that puts its waiter straight back on the loop's ready queue: the exact path by
// which a backend completes an operation (push the waiter; the next turn resumes it), minus
// the I/O. It serves both `co_await` (through waiter_awaitable) and fiber::await (through
// suspend_with), so a coroutine and a fiber waiting on it take the same path through the loop.
class requeue : public waiter_awaitable<requeue> {
 public:
  explicit requeue(event_loop& loop) noexcept : loop_(&loop) {}
  bool suspend_with(waiter w, cancel_scope*) {
    loop_->schedule(w);
    return true;
  }
  void await_resume() const noexcept {}

 private:
  event_loop* loop_;
};

// Counts the operations of a batch down; the one that reaches zero stops the loop, so run()
// returns after the current turn, with every other worker still queued for the next batch.
struct countdown {
  event_loop& loop;
  std::int64_t left = 0;

  void tick() {
    if (--left == 0) loop.stop();
  }
};

// Runs the loop once per batch of `per_batch` operations until the benchmark has enough.
// Every worker must tick exactly once per turn, and per_batch must be a multiple of the
// number of workers, so that a batch ends exactly at the end of a turn.
inline void run_batches(benchmark::State& state, countdown& c, std::int64_t per_batch) {
  while (state.KeepRunningBatch(per_batch)) {
    c.left = per_batch;
    c.loop.run();
  }
}

// Lets `workers` freshly spawned workers start and reach their first wait, then makes one
// counted turn, so the timed batches begin with every worker suspended in its steady state.
inline void warm_up(countdown& c, std::int64_t workers) {
  c.left = workers;
  c.loop.run();
}

// Operations per batch for `workers` concurrent workers: a whole number of turns, and enough
// of them that stopping and restarting the loop (an eventfd write and read) is lost in the noise.
inline std::int64_t batch_for(std::int64_t workers) {
  constexpr std::int64_t target = 64 * 1024;
  const std::int64_t turns = target / workers > 0 ? target / workers : 1;
  return turns * workers;
}

}  // namespace c10k::micro
