// Coroutines on the loop: suspend + resume, symmetric transfer into a child, spawn.
#include <benchmark/benchmark.h>

#include <cstdint>

#include "c10k/event_loop.hpp"
#include "c10k/task.hpp"
#include "c10k/time.hpp"
#include "loop_bench.hpp"

namespace c10k::micro {
namespace {

// Waits on the ready queue and counts each time it is resumed, forever (the loop destroys it).
task<> requeue_worker(countdown& c) {
  for (;;) {
    co_await requeue(c.loop);
    c.tick();
  }
}

// Waits through c10k::yield (behind the backend poll) and counts each resume, forever.
task<> yield_worker(countdown& c) {
  for (;;) {
    co_await yield{};
    c.tick();
  }
}

// One suspend + resume of a coroutine through the loop's ready queue, per operation: the
// awaiter pushes the coroutine's waiter, the next turn pops and resumes it. Every turn also
// reads the clock, checks the timers and makes one epoll_wait(0); with one worker that turn
// overhead is in every resume (the latency of a lone coroutine); with 256 or 1024 workers it
// is shared by all the resumes of the turn and the number approaches the bare resume cost
// (1024 also shows what a working set of 1024 frames costs in cache).
void BM_coroutine_resume(benchmark::State& state) {
  const std::int64_t workers = state.range(0);
  event_loop loop(backend_name);
  countdown c{loop};
  for (std::int64_t i = 0; i < workers; ++i) loop.spawn(requeue_worker(c));
  warm_up(c, workers);
  run_batches(state, c, batch_for(workers));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_coroutine_resume)->ArgName("coroutines")->Arg(1)->Arg(256)->Arg(1024);

// The same through c10k::yield, which queues the coroutine behind the next backend poll (one
// more vector hop than the ready queue): what a coroutine pays to let I/O in.
void BM_coroutine_yield(benchmark::State& state) {
  const std::int64_t workers = state.range(0);
  event_loop loop(backend_name);
  countdown c{loop};
  for (std::int64_t i = 0; i < workers; ++i) loop.spawn(yield_worker(c));
  warm_up(c, workers);
  run_batches(state, c, batch_for(workers));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_coroutine_yield)->ArgName("coroutines")->Arg(1)->Arg(1024);

// A child that completes without suspending.
task<int> ready_child(int v) { co_return v; }

task<> await_ready_children(benchmark::State& state) {
  int sum = 0;
  for (auto _ : state) {
    const int v = co_await ready_child(1);
    sum += v;
  }
  benchmark::DoNotOptimize(sum);
}

// One co_await of a child task that completes synchronously, per operation: allocate the
// child's frame (frame_allocator), transfer into it, transfer back from its final_suspend,
// destroy the frame. No loop turn is involved: the awaiting coroutine never suspends to the
// loop, so this is the cost of calling a coroutine as a function, the symmetric-transfer path.
void BM_coroutine_await_ready_child(benchmark::State& state) {
  event_loop loop(backend_name);
  loop.block_on(await_ready_children(state));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_coroutine_await_ready_child);

// Does nothing but count itself done.
task<> trivial_task(countdown& c) {
  c.tick();
  co_return;
}

// loop.spawn of a trivial task and running it to completion, per operation: the task's frame
// and the loop's detached wrapper frame are allocated, linked into the loop, queued, resumed,
// finished and freed. The tasks of a batch are spawned together and all finish in one turn,
// so the turn and the stop are shared by the whole batch.
void BM_spawn(benchmark::State& state) {
  const std::int64_t batch = state.range(0);
  event_loop loop(backend_name);
  countdown c{loop};
  while (state.KeepRunningBatch(batch)) {
    c.left = batch;
    for (std::int64_t i = 0; i < batch; ++i) loop.spawn(trivial_task(c));
    loop.run();
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_spawn)->ArgName("batch")->Arg(1024);

}  // namespace
}  // namespace c10k::micro
