// ready_queue: the waiters a loop will resume on its next pass, in the order they became ready.
#pragma once

#include <vector>

#include "c10k/waiter.hpp"

namespace c10k {

class ready_queue {
 public:
  // Appends w; it runs after everything already queued.
  void push(waiter w) { pending_.push_back(w); }
  bool empty() const noexcept { return pending_.empty(); }
  std::size_t size() const noexcept { return pending_.size(); }

  // Resumes every waiter queued before the call; ones queued meanwhile wait for the next
  // call, so a coroutine that keeps rescheduling itself cannot starve the backend poll.
  // Returns how many ran.
  std::size_t run_once() {
    running_.swap(pending_);
    const std::size_t n = running_.size();
    for (std::size_t i = 0; i < n; ++i) running_[i].resume();
    running_.clear();
    return n;
  }

  // Forgets every queued waiter without resuming it (the loop is being torn down).
  void clear() noexcept { pending_.clear(); }

 private:
  std::vector<waiter> pending_;
  std::vector<waiter> running_;
};

}  // namespace c10k
