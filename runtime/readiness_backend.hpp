// readiness_backend: what epoll, poll and select share.
//
// Each fd has at most one waiting reader and one waiting writer. start() tries the system call
// and parks the operation only on EAGAIN; when the mechanism reports the fd, retry() tries
// again and completes it. cancel, abandon and detach take parked operations out. A mechanism
// supplies only how interest in an fd is registered (the hooks) and how to wait (poll()).
#pragma once

#include <vector>

#include "c10k/backend.hpp"

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
  };

  explicit readiness_backend(ready_queue& ready) noexcept : backend(ready) {}

  // Registers interest in fd for the direction op waits on (readable or writable); returns 0,
  // or the errno that makes op fail instead of waiting.
  virtual int on_wait(int fd, bool readable, waiters& w) noexcept = 0;
  // A direction of fd lost its waiter (cancelled or abandoned); w says who still waits.
  virtual void on_unwait(int fd, waiters& w) noexcept { (void)fd, (void)w; }
  // fd is being closed: drop whatever the mechanism keeps for it.
  virtual void forget(int fd) noexcept { (void)fd; }

  // The waiters of fd, or nullptr for an fd never seen.
  waiters* waiters_of(int fd) noexcept {
    return fd >= 0 && static_cast<std::size_t>(fd) < table_.size() ? &table_[fd] : nullptr;
  }
  // Makes room in the table for fd and clears its entry (for attach()).
  void reset(int fd) {
    if (static_cast<std::size_t>(fd) >= table_.size()) table_.resize(static_cast<std::size_t>(fd) * 2 + 64);
    table_[fd] = {};
  }
  // Retries the operation parked in this direction; returns 1 if it completed.
  std::size_t retry(operation*& waiting);

 private:
  operation** find(operation& op) noexcept;

  std::vector<waiters> table_;
};

}  // namespace c10k
