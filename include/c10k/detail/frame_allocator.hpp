// frame_allocator: a per-thread recycling allocator for coroutine frames.
//
// A server creates and destroys a coroutine frame per request and per connection. Frames come
// in a handful of sizes, so a free list per 64-byte size class turns most allocations into a
// pointer pop. Each thread keeps its own lists (no locks); a frame freed on another thread
// simply joins that thread's lists. Each list is capped so an idle thread returns memory.
#pragma once

#include <cstddef>

namespace c10k::frame_allocator {

// Returns storage for at least `size` bytes, aligned for any coroutine frame; throws
// std::bad_alloc when the system is out of memory.
void* allocate(std::size_t size);

// Returns storage obtained from allocate(size) to this thread's free list (or the system).
void deallocate(void* p, std::size_t size) noexcept;

// Statistics of this thread: frames handed out from a free list rather than the system.
std::size_t recycled_count() noexcept;

}  // namespace c10k::frame_allocator
