// fiber_stack: the memory a fiber runs on, and the per-thread pool that recycles it.
//
// A stack is one mmap: a PROT_NONE guard page at the low end, then the usable bytes (stacks grow
// down, so running past the end touches the guard page). Only pages a fiber touches become
// resident, so a 64 KiB stack costs a few KiB of memory for a fiber that stays shallow. Stacks go
// back to a bounded per-thread pool when their fiber ends; a new fiber takes one from there
// before asking the kernel. A fiber that overflows its stack faults in the guard page, and a
// SIGSEGV handler (running on an alternate signal stack) names the fiber and aborts.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace c10k {

// One mapped stack: [base, base + guard) is the guard page, [bottom(), top()) is usable.
struct fiber_stack {
  char* base = nullptr;
  std::size_t guard = 0;
  std::size_t size = 0;

  // The lowest usable address.
  char* bottom() const noexcept { return base + guard; }
  // One past the highest usable address: where the stack pointer starts.
  char* top() const noexcept { return base + guard + size; }
};

// What the pool of the calling thread did so far.
struct fiber_stack_counters {
  std::size_t allocated = 0;  // stacks mapped from the kernel
  std::size_t reused = 0;     // stacks handed out again from the pool
  std::size_t released = 0;   // stacks unmapped (pool full, or thread exit)
  std::size_t in_use = 0;     // stacks held by fibers now
  std::size_t pooled = 0;     // stacks waiting in the pool now
};

class fiber_stack_pool {
 public:
  // Under AddressSanitizer frames are several times larger (redzones), so the default grows.
#if defined(__SANITIZE_ADDRESS__)
  static constexpr std::size_t default_size = 256 * 1024;
#else
  static constexpr std::size_t default_size = 64 * 1024;
#endif
  static constexpr std::size_t default_limit = 1024;

  fiber_stack_pool() = default;
  fiber_stack_pool(const fiber_stack_pool&) = delete;
  fiber_stack_pool& operator=(const fiber_stack_pool&) = delete;
  // Unmaps every pooled stack.
  ~fiber_stack_pool();

  // The calling thread's pool (fibers never move between threads, so neither do their stacks).
  static fiber_stack_pool& local();

  // Returns a stack of at least `size` usable bytes (rounded up to pages): a pooled one of that
  // size when there is one, else a new mapping. Throws std::system_error when mmap fails.
  fiber_stack allocate(std::size_t size);
  // Takes s back: pools it, or unmaps it when the pool already holds `limit()` stacks.
  void deallocate(const fiber_stack& s) noexcept;

  // The counters of this pool.
  fiber_stack_counters counters() const noexcept;
  // Stacks held by fibers now, and their usable bytes (cheap: for a loop to publish each turn).
  std::size_t in_use() const noexcept { return counters_.in_use; }
  std::size_t bytes_in_use() const noexcept { return bytes_in_use_; }
  // How many free stacks the pool keeps at most.
  std::size_t limit() const noexcept { return limit_; }
  void set_limit(std::size_t n) noexcept { limit_ = n; }

 private:
  std::vector<fiber_stack> free_;
  std::size_t limit_ = default_limit;
  fiber_stack_counters counters_;
  std::size_t bytes_in_use_ = 0;
};

// The size of a page, the unit of guards and stack sizes.
std::size_t page_size() noexcept;

namespace detail {

// What the overflow handler needs to know about the stack running on this thread. Plain data:
// the handler reads it inside a signal.
struct stack_guard_info {
  const char* guard_lo = nullptr;
  const char* guard_hi = nullptr;
  std::size_t size = 0;
  std::uint64_t id = 0;
  char name[48] = {};
};

// Makes `info` (nullptr: none) the fiber stack running on this thread; returns the previous one.
const stack_guard_info* set_running_stack(const stack_guard_info* info) noexcept;
// Installs the SIGSEGV handler (once per process) and an alternate signal stack on this thread
// (once per thread), so that an overflow can be reported from a stack that still works.
void prepare_overflow_handler();

}  // namespace detail
}  // namespace c10k
