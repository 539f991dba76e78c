// readiness_backend: what epoll, poll and select share.
//
// Each fd has at most one waiting reader and one waiting writer. start() tries the system call
// and parks the operation only on EAGAIN; when the mechanism reports the fd, retry() tries
// again and completes it. cancel, abandon and detach take parked operations out. A mechanism
// supplies only how interest in an fd is registered (the hooks) and how to wait (poll()).
#pragma once

#include <algorithm>
#include <vector>

#include "c10k/backend.hpp"
#include "fd_table.hpp"

namespace c10k {

class readiness_backend : public backend {
 public:
  bool start(operation& op) final;
  void cancel(operation& op) noexcept final;
  void abandon(operation& op) noexcept final;
  // Completes fd's parked operations with -ECANCELED, then calls forget(fd).
  void detach(int fd) noexcept final;

 protected:
  struct waiters {
    operation* reader = nullptr;
    operation* writer = nullptr;
    // The last read returned less than it asked for: the socket was empty then, so the next
    // read waits for readiness instead of trying (and failing with EAGAIN) first. Data that
    // arrives later makes the fd ready, level- or edge-triggered alike.
    bool drained = false;
    // Its parked receive was reported ready and waits in deferred_ to be read (retry()).
    bool deferred = false;
  };

  // level_triggered: a parked reader is told of data already there, which lets a read after
  // a draining one skip its first try. Edge-triggered epoll always tries first, because an
  // edge that came while nobody waited is not reported again.
  readiness_backend(ready_queue& ready, bool level_triggered) noexcept : backend(ready), level_triggered_(level_triggered) {}

  // Registers interest in fd for the direction op waits on (readable or writable); returns 0,
  // or the errno that makes op fail instead of waiting.
  virtual int on_wait(int fd, bool readable, waiters& w) noexcept = 0;
  // A direction of fd lost its waiter (cancelled or abandoned); w says who still waits.
  virtual void on_unwait(int fd, waiters& w) noexcept { (void)fd, (void)w; }
  // fd is being closed: drop whatever the mechanism keeps for it.
  virtual void forget(int fd) noexcept { (void)fd; }

  // The waiters of fd, or nullptr for an fd never seen.
  waiters* waiters_of(int fd) noexcept {
    return table_.find(fd);
  }
  // Makes room in the table for fd and clears its entry (for attach()).
  void reset(int fd) {
    table_.make_room(fd) = {};
  }
  // A poll timeout in milliseconds for epoll_wait and poll: -1 to wait without limit, rounded
  // up (waking a little late is harmless, waking early spins on the timer heap).
  static int timeout_ms(std::chrono::nanoseconds timeout) noexcept {
    if (timeout.count() < 0) return -1;
    return static_cast<int>(std::min<long long>((timeout.count() + 999'999) / 1'000'000, 1'000'000));
  }
  // Retries the operation parked in this direction; returns 1 if it completed (or, for a
  // receive, will complete in the ready queue's next pass).
  std::size_t retry(operation*& waiting);
  // Records whether a read-side result shows the socket drained (0 < r < what was asked).
  static void note_read(waiters& w, const operation& op, long long r) noexcept {
    if (op.kind == op_kind::read || op.kind == op_kind::receive) w.drained = r > 0 && static_cast<std::size_t>(r) < op.len;
  }

 private:
  operation** find(operation& op) noexcept;
  static void read_deferred(void* self);

  fd_table<waiters> table_;
  std::vector<int> deferred_;  // fds whose receive is ready, to be read by read_deferred
  std::vector<int> reading_;   // the batch read_deferred works through
  bool level_triggered_;
};

}  // namespace c10k
