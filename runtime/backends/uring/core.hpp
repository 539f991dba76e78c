// uring::core: what the parts of the io_uring backend share. The ring, the request records,
// the count of requests in flight per fd, the submission of an operation's own entry, and the
// one way an operation completes (the backend's complete(), which core's owner provides).
#pragma once

#include <cstdint>
#include <vector>

#include "c10k/backend.hpp"
#include "../fd_table.hpp"
#include "request.hpp"
#include "ring.hpp"

namespace c10k::uring {

// The provided-buffer group receives pick their buffer from.
inline constexpr int buffer_group = 0;

class core {
 public:
  explicit core(backend_counters& counters) noexcept : ring_(counters), counters_(counters) {}
  core(const core&) = delete;
  core& operator=(const core&) = delete;

  // Records op's result and queues its waiter (the backend's complete()).
  virtual void complete(operation& op, long long res) = 0;

  // Queues op's own entry (read, write, writev, connect, or a receive from the buffer ring);
  // returns its request.
  request* submit_op(operation& op);
  // Queues a poll for the readiness op waits for; its completion retries op's system call.
  void submit_poll(operation& op);
  // Queues a cancel of request r (its completion needs no handling).
  void cancel_request(const request* r);

  // Counts a request in flight on fd (delta +1) or one that ended (-1).
  void track(int fd, int delta) noexcept {
    if (std::uint32_t* n = in_flight_.find(fd)) *n += delta;
  }
  // Whether the kernel has a request in flight on fd.
  bool busy(int fd) const noexcept {
    const std::uint32_t* n = in_flight_.find(fd);
    return n && *n > 0;
  }
  // Makes room for fd in the per-fd count.
  void reserve(int fd) {
    in_flight_.make_room(fd);
  }

  ring ring_;
  request_pool requests_;
  backend_counters& counters_;

 protected:
  ~core() = default;

 private:
  fd_table<std::uint32_t> in_flight_;  // requests in the kernel per fd, to skip needless cancels
};

}  // namespace c10k::uring
