// Coroutine frame allocation: c10k::frame_allocator against the global operator new.
#include <benchmark/benchmark.h>

#include <array>
#include <cstddef>
#include <new>

#include "c10k/detail/frame_allocator.hpp"

namespace c10k::micro {
namespace {

// Sizes of typical frames: a small task (a few locals, a child awaiter) and a connection-sized
// coroutine (a request head, buffers' bookkeeping, nested awaiters).
void frame_sizes(benchmark::internal::Benchmark* b) { b->ArgName("bytes")->Arg(256)->Arg(1024); }

// One allocate + free of a frame, per operation, as a coroutine that is created and finishes
// before the next one starts does (a child task awaited in a loop). DoNotOptimize on the
// pointer keeps the compiler from pairing and removing the two calls.
void BM_frame_allocator(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = frame_allocator::allocate(size);
    benchmark::DoNotOptimize(p);
    frame_allocator::deallocate(p, size);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_frame_allocator)->Apply(frame_sizes);

// The same through the global operator new/delete (glibc malloc here): what a frame would cost
// without frame_allocator.
void BM_operator_new(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    void* p = ::operator new(size);
    benchmark::DoNotOptimize(p);
    ::operator delete(p, size);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_operator_new)->Apply(frame_sizes);

// Many frames alive at once: a burst of 64 allocations then 64 frees, per 64 operations, as a
// turn that starts many coroutines does. A single allocate/free pair can be served from one
// cached block every time; a burst walks the free list (or the malloc bins) for real.
constexpr std::size_t burst = 64;

template <void* (*Allocate)(std::size_t), void (*Free)(void*, std::size_t)>
void run_burst(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  std::array<void*, burst> live{};
  while (state.KeepRunningBatch(burst)) {
    for (auto& p : live) p = Allocate(size);
    benchmark::DoNotOptimize(live.data());
    benchmark::ClobberMemory();
    for (void* p : live) Free(p, size);
  }
  state.SetItemsProcessed(state.iterations());
}

void* global_new(std::size_t size) { return ::operator new(size); }
void global_delete(void* p, std::size_t size) { ::operator delete(p, size); }

void BM_frame_allocator_burst(benchmark::State& state) {
  run_burst<frame_allocator::allocate, frame_allocator::deallocate>(state);
}
BENCHMARK(BM_frame_allocator_burst)->Apply(frame_sizes);

void BM_operator_new_burst(benchmark::State& state) { run_burst<global_new, global_delete>(state); }
BENCHMARK(BM_operator_new_burst)->Apply(frame_sizes);

}  // namespace
}  // namespace c10k::micro
