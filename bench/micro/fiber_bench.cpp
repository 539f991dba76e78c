// Fibers on the loop: park + resume, and spawn + join.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include "c10k/event_loop.hpp"
#include "c10k/fiber.hpp"
#include "c10k/task.hpp"
#include "loop_bench.hpp"

namespace c10k::micro {
namespace {

// Spawns `workers` fibers that wait in a loop on `wait` and count each time they are resumed.
// They never end: the loop unwinds them when it is destroyed.
template <typename Wait>
void spawn_fiber_workers(countdown& c, std::int64_t workers, Wait wait) {
  for (std::int64_t i = 0; i < workers; ++i) {
    (void)spawn_fiber(c.loop, [&c, wait] {
      for (;;) {
        wait(c.loop);
        c.tick();
      }
    });
  }
}

// One park + resume round trip of a fiber through the loop's ready queue, per operation: the
// fiber hands its waiter to the same requeue awaiter BM_coroutine_resume uses and switches to
// the loop's stack; the next turn resumes the waiter, which switches back onto the fiber's
// stack. So the difference from BM_coroutine_resume at the same count is the price of two
// stack switches (and their bookkeeping) over a coroutine resume. One fiber pays a whole loop
// turn per switch; many share it.
void BM_fiber_switch(benchmark::State& state) {
  const std::int64_t workers = state.range(0);
  event_loop loop(backend_name);
  countdown c{loop};
  spawn_fiber_workers(c, workers, [](event_loop& l) { fiber::await(requeue(l)); });
  warm_up(c, workers);
  run_batches(state, c, batch_for(workers));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_fiber_switch)->ArgName("fibers")->Arg(1)->Arg(256)->Arg(1024);

// The same through fiber::yield(), which queues the fiber behind the next backend poll: the
// counterpart of BM_coroutine_yield.
void BM_fiber_yield(benchmark::State& state) {
  const std::int64_t workers = state.range(0);
  event_loop loop(backend_name);
  countdown c{loop};
  spawn_fiber_workers(c, workers, [](event_loop&) { fiber::yield(); });
  warm_up(c, workers);
  run_batches(state, c, batch_for(workers));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_fiber_yield)->ArgName("fibers")->Arg(1)->Arg(1024);

task<> spawn_and_join(benchmark::State& state, event_loop& loop, std::int64_t batch) {
  std::vector<fiber_handle<int>> handles;
  handles.reserve(static_cast<std::size_t>(batch));
  std::int64_t sum = 0;
  while (state.KeepRunningBatch(batch)) {
    for (std::int64_t i = 0; i < batch; ++i) handles.push_back(spawn_fiber(loop, [] { return 1; }));
    for (auto& h : handles) {
      const int v = co_await h.join();
      sum += v;
    }
    handles.clear();
  }
  benchmark::DoNotOptimize(sum);
}

// spawn_fiber of a trivial function and joining it from a coroutine, per operation: the
// shared fiber object, its owning task, a stack from the thread's pool (warm after the first
// batch: the batch is below the pool's cap), the first switch in, the switch out at the end,
// and the join. A batch is spawned before any is joined so that the loop turns it takes (the
// fibers start on a coming turn) are shared by the batch.
void BM_fiber_spawn_join(benchmark::State& state) {
  const std::int64_t batch = state.range(0);
  event_loop loop(backend_name);
  loop.block_on(spawn_and_join(state, loop, batch));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_fiber_spawn_join)->ArgName("batch")->Arg(256);

}  // namespace
}  // namespace c10k::micro
