// uring::ring: the io_uring instance itself. Sets it up and probes what the backend needs,
// hands out submission entries (spilling them into a queue while the ring is full), submits,
// waits and reaps. It knows nothing of operations: a completion's user_data goes back to the
// caller of reap().
#pragma once

#include <liburing.h>

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>
#include <string_view>
#include <system_error>

#include "c10k/backend.hpp"

namespace c10k::uring {

// Whether `feature` is in the comma-separated list `disabled` (C10K_IO_URING_DISABLE).
bool listed(std::string_view disabled, std::string_view feature);

class ring {
 public:
  explicit ring(backend_counters& counters) noexcept : counters_(counters) {}
  ring(const ring&) = delete;
  ring& operator=(const ring&) = delete;
  ~ring() { exit(); }

  // Sets the ring up, preferring the single-issuer, deferred-task-work mode, and probes the
  // features the backend relies on (those in `disabled` count as missing); returns the error
  // setup hit or the first feature missing. A non-empty `forced_error` (EPERM, ENOSYS, a
  // number) fails at once with that error, for tests.
  std::error_code setup(const std::string& forced_error, std::string_view disabled);
  // Tears the ring down (the kernel drops what is still in flight); does nothing twice.
  void exit() noexcept;

  // The liburing handle, for registrations.
  io_uring* raw() noexcept { return &ring_; }

  // A submission entry to fill: from the ring, or, when the ring is full and the kernel takes
  // nothing now (out of memory: -EAGAIN; completions overflowing: -EBUSY), from the spill
  // queue, whose entries go to the ring, in order, before the next submission.
  io_uring_sqe* get_sqe() noexcept;
  // Moves spilled entries into the ring as far as it has room.
  void queue_spilled() noexcept;
  // Hands the queued entries to the kernel now; entries the kernel refuses stay queued.
  void submit_now() noexcept;

  // Submits everything queued and waits up to `timeout` (negative: without limit; zero: not
  // at all) for a completion; enter errors are handled as on_enter_error says.
  void submit_and_wait(std::chrono::nanoseconds timeout) noexcept;
  // Submits and waits for at least one completion, whatever the error (abandon's wait).
  void submit_and_wait_one() noexcept;
  // Submits and waits for one completion without counting it or looking at the error (the
  // destructor's drain of pending closes).
  void drain_one() noexcept { io_uring_submit_and_wait(&ring_, 1); }

  // Hands every completion waiting in the ring to on_cqe(user_data, res, flags), which returns
  // how many operations it completed; returns the sum.
  template <typename F>
  std::size_t reap(F&& on_cqe) {
    std::size_t completed = 0;
    // Completions that found the ring full wait in the kernel's overflow list; each pass
    // makes room and asks the kernel to flush them (bounded: a busy ring may refill it).
    for (int pass = 0; pass < 16; ++pass) {
      unsigned head, seen = 0;
      io_uring_cqe* cqe;
      io_uring_for_each_cqe(&ring_, head, cqe) {
        ++seen;
        completed += on_cqe(io_uring_cqe_get_data(cqe), cqe->res, cqe->flags);
      }
      io_uring_cq_advance(&ring_, seen);
      counters_.events += seen;
      if (!io_uring_cq_has_overflow(&ring_)) break;
      ++counters_.syscalls;
      (void)io_uring_get_events(&ring_);
    }
    return completed;
  }

 private:
  std::error_code probe(unsigned features, std::string_view disabled);
  bool opcodes_supported();
  void probe_accept(bool& multishot, bool& cancel_fd);
  void on_enter_error(int res, std::chrono::nanoseconds timeout) noexcept;

  io_uring ring_{};
  bool live_ = false;
  backend_counters& counters_;
  std::deque<io_uring_sqe> spilled_;  // entries the full ring could not take yet
};

}  // namespace c10k::uring
