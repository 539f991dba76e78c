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

#include "readiness_backend.hpp"
#include "wake_fd.hpp"

#include <sys/select.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <utility>

#include "c10k/log.hpp"

namespace c10k {
namespace {

class select_backend final : public readiness_backend {
 public:
  select_backend(ready_queue& ready, wake_fd wake)
      : readiness_backend(ready, /*level_triggered=*/true), wake_(std::move(wake)), max_fd_(wake_.fd()) {
    FD_ZERO(&read_set_);
    FD_ZERO(&write_set_);
    FD_SET(wake_.fd(), &read_set_);
  }

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
    reset(fd);
    return {};
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
      if (fd == wake_.fd()) {
        ++counters_.syscalls;
        wake_.drain();
        continue;
      }
      waiters& ws = *waiters_of(fd);
      if (r) completed += retry(ws.reader);
      if (w) completed += retry(ws.writer);
      narrow(fd, ws);
    }
    return completed;
  }

  void wake() noexcept override { wake_.signal(); }

 private:
  int on_wait(int fd, bool readable, waiters&) noexcept override {
    if (fd >= FD_SETSIZE) return EBADF;  // attach() refused it: no fd_set may see it
    FD_SET(fd, readable ? &read_set_ : &write_set_);
    max_fd_ = std::max(max_fd_, fd);
    return 0;
  }
  void on_unwait(int fd, waiters& w) noexcept override { narrow(fd, w); }
  void forget(int fd) noexcept override {
    if (fd < FD_SETSIZE) clear(fd, true, true);
  }

  // Clears fd's bits for the directions nobody waits on any more.
  void narrow(int fd, const waiters& w) noexcept { clear(fd, !w.reader, !w.writer); }

  // Clears fd's read and/or write bit, lowering max_fd_ when fd was the highest one set.
  void clear(int fd, bool read, bool write) noexcept {
    if (read) FD_CLR(fd, &read_set_);
    if (write) FD_CLR(fd, &write_set_);
    // The wake-up eventfd stays set, so this stops at it at the latest.
    while (max_fd_ > 0 && !FD_ISSET(max_fd_, &read_set_) && !FD_ISSET(max_fd_, &write_set_)) --max_fd_;
  }

  wake_fd wake_;
  int max_fd_;       // the highest fd set in either master, the wake_fd at least
  fd_set read_set_;  // fds with a reader waiting, and the wake_fd
  fd_set write_set_; // fds with a writer waiting
};

}  // namespace

result<std::unique_ptr<backend>> make_select_backend(ready_queue& ready) {
  auto wake = wake_fd::make();
  if (!wake) return wake.error();
  if (wake->fd() >= FD_SETSIZE) {  // the process already holds FD_SETSIZE fds: select cannot wait on it
    log(log_level::warning, "select backend: the wake-up eventfd is fd {}, not below FD_SETSIZE ({})", wake->fd(),
        FD_SETSIZE);
    return std::errc::value_too_large;  // the eventfd closes with `wake`
  }
  return std::unique_ptr<backend>(std::make_unique<select_backend>(ready, std::move(*wake)));
}

}  // namespace c10k
