// counters: what a baseline server has done, for its /stats answer.
//
// The runner divides `syscalls` by `requests` to report system calls per request, so every
// system call a server makes is counted where it is made (for io_uring: each io_uring_enter,
// plus the direct calls such as sendfile and setsockopt).
#pragma once

#include <atomic>
#include <cstdint>

namespace c10k::baseline {

// A counter with a single writer (one event loop) and any number of readers (/stats, from
// whichever loop answers it). The writer does a plain load and store, so counting costs no
// locked instruction on the hot path; readers see a value at most a few events old.
class owned_counter {
 public:
  // Adds n (which may be negative); only the owning thread may call this.
  void add(std::int64_t n) noexcept {
    value_.store(value_.load(std::memory_order_relaxed) + static_cast<std::uint64_t>(n), std::memory_order_relaxed);
  }
  // Returns the current value; callable from any thread.
  std::uint64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// One event loop's counters, on a cache line of their own so loops do not share one.
struct alignas(64) loop_counters {
  owned_counter connections;  // open now
  owned_counter requests;     // answered
  owned_counter syscalls;     // made by this loop
};

// The sums /stats reports.
struct stats_snapshot {
  std::uint64_t connections = 0;
  std::uint64_t requests = 0;
  std::uint64_t syscalls = 0;
};

}  // namespace c10k::baseline
