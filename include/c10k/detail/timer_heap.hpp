// timer_heap: the loop's pending timers, earliest first.
//
// A binary heap of intrusive entries: an entry knows its own position, so cancelling one (the
// common case: a timeout that did not fire) costs O(log n) and no search or allocation.
#pragma once

#include <chrono>
#include <cstddef>
#include <vector>

namespace c10k {

using clock = std::chrono::steady_clock;

struct timer_entry {
  clock::time_point deadline{};
  void (*fire)(timer_entry* self) = nullptr;  // called by the loop once the deadline passed
  std::size_t index_ = npos;                   // position in the heap; npos when not queued

  static constexpr std::size_t npos = static_cast<std::size_t>(-1);
  // True while the entry waits in a heap.
  bool queued() const noexcept { return index_ != npos; }
};

class timer_heap {
 public:
  // Queues t (not already queued) to fire at t.deadline.
  void push(timer_entry& t);
  // Removes t if it is queued; does nothing otherwise.
  void remove(timer_entry& t) noexcept;
  // The earliest entry, or nullptr when empty.
  timer_entry* top() const noexcept { return heap_.empty() ? nullptr : heap_.front(); }
  // Removes and returns the earliest entry whose deadline is at or before now, or nullptr.
  timer_entry* pop_due(clock::time_point now) noexcept;
  std::size_t size() const noexcept { return heap_.size(); }
  bool empty() const noexcept { return heap_.empty(); }

 private:
  void sift_up(std::size_t i) noexcept;
  void sift_down(std::size_t i) noexcept;
  void place(std::size_t i, timer_entry* t) noexcept {
    heap_[i] = t;
    t->index_ = i;
  }
  std::vector<timer_entry*> heap_;
};

}  // namespace c10k
