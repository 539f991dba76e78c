// uring::provided_buffers: the registered provided-buffer ring receives pick from, and the
// receives starved of a buffer.
//
// A receive takes a buffer only once data is there (IORING_RECVSEND_POLL_FIRST), so ENOBUFS
// means data waits while every buffer is lent out: the receive parks here, and every buffer
// that comes back resubmits parked receives while free buffers outnumber those already
// resubmitted, so none stays parked while a buffer is free. Without a buffer ring (kernels
// before 5.19, or C10K_IO_URING_DISABLE=provided_buffers) receives go by poll + recv instead.
#pragma once

#include <cstdint>
#include <deque>

#include "core.hpp"

namespace c10k::uring {

class provided_buffers {
 public:
  explicit provided_buffers(core& c) noexcept : core_(c) {}
  provided_buffers(const provided_buffers&) = delete;
  provided_buffers& operator=(const provided_buffers&) = delete;
  // Unmaps the buffers and the ring (after the ring is gone).
  ~provided_buffers();

  // Registers the buffer ring (C10K_IO_URING_BUFFERS buffers, 512 by default); on failure
  // receives go by poll + recv.
  void setup();
  // Whether a buffer ring is registered.
  bool enabled() const noexcept { return buf_ring_ != nullptr; }

  // A receive's completion carried buffer `id`: lends it to op (when op is alive and res > 0)
  // or gives it back at once.
  void lend(std::uint32_t id, operation* op, int res) noexcept;
  // Gives buffer id back to the ring and feeds starved receives.
  void give_back(std::uint32_t id) noexcept;

  // Parks a receive that met ENOBUFS until a buffer is free.
  void park(operation& op) { starved_.push_back(&op); }
  // Removes op from the parked receives; returns whether it was there.
  bool unpark(operation& op) noexcept;
  // Completes fd's parked receives with -ECANCELED.
  void detach(int fd) noexcept;
  // A receive's completion arrived; `resubmitted` says it was a starved one submitted again.
  void receive_ended(bool resubmitted) noexcept {
    if (resubmitted) --resubmitting_;
  }
  // Submits parked receives again while free buffers outnumber those already resubmitted.
  void feed();

 private:
  std::size_t ring_bytes() const noexcept;

  core& core_;
  io_uring_buf_ring* buf_ring_ = nullptr;  // the provided buffer ring, or nullptr without one
  char* buffers_ = nullptr;
  unsigned count_ = 0;
  std::deque<operation*> starved_;  // receives that met ENOBUFS, waiting for a buffer
  unsigned resubmitting_ = 0;       // starved receives submitted again, not completed yet
};

}  // namespace c10k::uring
