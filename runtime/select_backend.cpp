// select(2), the oldest of the three mechanisms the paper compares.
//
// The backend keeps master read and write fd_sets holding exactly the fds somebody waits on
// (an fd is set the first time an operation on it meets EAGAIN and cleared as soon as nobody
// waits in that direction), plus the highest fd set. select() overwrites the sets it is given,
// so every call copies the masters, and the kernel then walks every fd up to the highest one,
// as the backend does afterwards to find the ready bits: the cost of one call grows with the
// highest fd waited on, not with the number that are ready. That per-call O(registered fds)
// is what the comparison with epoll measures. An fd_set is a fixed bitmap of FD_SETSIZE bits,
// and FD_SET on a larger fd writes past it, so attach() refuses such fds outright.
#include "select_backend.hpp"

#include <sys/eventfd.h>
#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>

#include "c10k/log.hpp"

namespace c10k {
namespace {

class select_backend final : public backend {
 public:
  select_backend(ready_queue& ready, int wakefd) : backend(ready), wakefd_(wakefd), max_fd_(wakefd) {
    FD_ZERO(&read_set_);
    FD_ZERO(&write_set_);
    FD_SET(wakefd_, &read_set_);
  }

  ~select_backend() override { ::close(wakefd_); }

  std::string_view name() const noexcept override { return "select"; }

  result<void> attach(int fd) override {
    if (fd < 0) return std::errc::bad_file_descriptor;
    if (fd >= FD_SETSIZE) {
      log(log_level::warning, "select backend: refusing fd {}: select can only watch fds below FD_SETSIZE ({})", fd,
          FD_SETSIZE);
      return std::errc::value_too_large;
    }
    // A stale bit would make select watch a new file under an old interest.
    clear(fd, true, true);
    slots_[fd] = {};
    return {};
  }

  void detach(int fd) noexcept override {
    if (fd < 0 || fd >= FD_SETSIZE) return;  // never attached: no fd_set may see it
    slot& s = slots_[fd];
    if (s.reader) complete(*std::exchange(s.reader, nullptr), -ECANCELED);
    if (s.writer) complete(*std::exchange(s.writer, nullptr), -ECANCELED);
    clear(fd, true, true);
  }

  bool start(operation& op) override {
    ++counters_.operations;
    long long r = try_op(op);
    if (r != -EAGAIN) {
      op.result = r;
      return false;
    }
    if (op.fd < 0 || op.fd >= FD_SETSIZE) {  // not attached (attach refused it): cannot wait
      op.result = -EBADF;
      return false;
    }
    slot& s = slots_[op.fd];
    const bool reading = waits_readable(op.kind);
    operation*& waiting = reading ? s.reader : s.writer;
    if (waiting) {  // a second reader or writer on one fd is a caller bug; refuse it
      op.result = -EBUSY;
      return false;
    }
    waiting = &op;
    op.in_flight = true;
    FD_SET(op.fd, reading ? &read_set_ : &write_set_);
    max_fd_ = std::max(max_fd_, op.fd);
    return true;
  }

  void cancel(operation& op) noexcept override {
    if (operation** w = find(op)) {
      *w = nullptr;
      narrow(op.fd);
      complete(op, -ECANCELED);
    }
  }

  void abandon(operation& op) noexcept override {
    if (operation** w = find(op)) {
      *w = nullptr;
      narrow(op.fd);
      op.in_flight = false;
    }
  }

  std::size_t poll(std::chrono::nanoseconds timeout) override {
    timeval tv{};
    timeval* tvp = nullptr;
    if (timeout.count() >= 0) {
      // Round up: waking a little late is harmless, waking early spins on the timer heap.
      const long long us = std::min<long long>((timeout.count() + 999) / 1'000, 1'000'000'000'000LL);
      tv.tv_sec = static_cast<time_t>(us / 1'000'000);
      tv.tv_usec = static_cast<suseconds_t>(us % 1'000'000);
      tvp = &tv;
    }
    // select overwrites its arguments with the ready bits, so it gets copies of the masters.
    fd_set readable = read_set_;
    fd_set writable = write_set_;
    const int nfds = max_fd_ + 1;
    ++counters_.syscalls;
    int n = ::select(nfds, &readable, &writable, nullptr, tvp);
    if (n <= 0) return 0;  // timeout, or EINTR: the loop simply turns again
    // n counts ready bits; an fd ready both ways is one event, as epoll and poll report it.
    std::size_t completed = 0;
    int left = n;
    // Only fd's own slot and bits change while fd is handled, and the copies do not change at
    // all, so clearing bits in the masters during the walk is safe.
    for (int fd = 0; fd < nfds && left > 0; ++fd) {
      const bool r = FD_ISSET(fd, &readable);
      const bool w = FD_ISSET(fd, &writable);
      if (!r && !w) continue;
      left -= int{r} + int{w};
      ++counters_.events;
      if (fd == wakefd_) {
        eventfd_t v;
        ++counters_.syscalls;
        (void)::eventfd_read(wakefd_, &v);
        continue;
      }
      slot& s = slots_[fd];
      if (r) completed += on_ready(s.reader);
      if (w) completed += on_ready(s.writer);
      narrow(fd);
    }
    return completed;
  }

  void wake() noexcept override { (void)::eventfd_write(wakefd_, 1); }

 private:
  struct slot {
    operation* reader = nullptr;
    operation* writer = nullptr;
  };

  // Retries the operation waiting in this direction; returns 1 if it completed.
  std::size_t on_ready(operation*& waiting) {
    if (!waiting) return 0;
    long long r = try_op(*waiting);
    if (r == -EAGAIN) return 0;  // spurious: keep waiting
    complete(*std::exchange(waiting, nullptr), r);
    return 1;
  }

  // Clears fd's bits for the directions nobody waits on any more.
  void narrow(int fd) noexcept {
    const slot& s = slots_[fd];
    clear(fd, !s.reader, !s.writer);
  }

  // Clears fd's read and/or write bit, lowering max_fd_ when fd was the highest one set.
  void clear(int fd, bool read, bool write) noexcept {
    if (read) FD_CLR(fd, &read_set_);
    if (write) FD_CLR(fd, &write_set_);
    // The wake-up eventfd stays set, so this stops at it at the latest.
    while (max_fd_ > 0 && !FD_ISSET(max_fd_, &read_set_) && !FD_ISSET(max_fd_, &write_set_)) --max_fd_;
  }

  operation** find(operation& op) noexcept {
    if (!op.in_flight || op.fd < 0 || op.fd >= FD_SETSIZE) return nullptr;
    slot& s = slots_[op.fd];
    if (s.reader == &op) return &s.reader;
    if (s.writer == &op) return &s.writer;
    return nullptr;
  }

  int wakefd_;
  int max_fd_;                             // the highest fd set in either master, wakefd_ at least
  fd_set read_set_;                        // fds with a reader waiting, and wakefd_
  fd_set write_set_;                       // fds with a writer waiting
  std::array<slot, FD_SETSIZE> slots_{};   // indexed by fd: attach() admits nothing larger
};

}  // namespace

result<std::unique_ptr<backend>> make_select_backend(ready_queue& ready) {
  int wakefd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd < 0) return errno_code(errno);
  if (wakefd >= FD_SETSIZE) {  // the process already holds FD_SETSIZE fds: select cannot wait on it
    log(log_level::warning, "select backend: the wake-up eventfd is fd {}, not below FD_SETSIZE ({})", wakefd,
        FD_SETSIZE);
    ::close(wakefd);
    return std::errc::value_too_large;
  }
  return std::unique_ptr<backend>(std::make_unique<select_backend>(ready, wakefd));
}

}  // namespace c10k
