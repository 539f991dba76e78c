// reactor: one event loop of c10k-reactor, the hand-written callback baseline.
//
// No coroutines and no c10k runtime: each loop owns a listener, a table of per-connection
// state machines, and a kernel event mechanism; callbacks run on events and move a
// connection's state forward. c10k's coroutines are measured against this.
#pragma once

#include <cstdint>
#include <ctime>
#include <memory>

#include "counters.hpp"
#include "http_batch.hpp"

namespace c10k::baseline {

// What a loop is given; everything outlives the loop.
struct loop_setup {
  int listen_fd = -1;           // nonblocking, SO_REUSEPORT: this loop's own listener
  int wake_fd = -1;             // an eventfd: written once to stop the loop
  const site* serves = nullptr;
  loop_counters* counters = nullptr;
  unsigned idle_timeout_s = 60;  // 0: never
};

class reactor {
 public:
  virtual ~reactor() = default;
  // Sets up the kernel side (the epoll set, or the ring); returns 0, or -errno when that
  // failed. Call on the thread that will run the loop (an io_uring ring set up with
  // SINGLE_ISSUER belongs to the thread that created it).
  virtual int init() = 0;
  // Serves until wake_fd is written, then closes every connection; returns nothing.
  virtual void run() = 0;
  // Returns how the loop waits, for the ready line ("epoll", "io_uring (single issuer, deferred task run)").
  virtual const char* describe() const noexcept = 0;
};

// Returns a level-triggered epoll loop.
std::unique_ptr<reactor> make_epoll_reactor(const loop_setup& setup);
// Returns an io_uring completion loop.
std::unique_ptr<reactor> make_uring_reactor(const loop_setup& setup);

// Returns the seconds of CLOCK_MONOTONIC_COARSE: a vDSO read, no system call, for the idle
// timeout's bookkeeping.
inline std::int64_t coarse_seconds() noexcept {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return ts.tv_sec;
}

}  // namespace c10k::baseline
