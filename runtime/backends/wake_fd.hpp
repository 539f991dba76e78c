// wake_fd: the eventfd a backend watches so that wake(), from any thread, ends a poll() in
// progress. Every backend owns one; the readiness backends watch it beside their fds, io_uring
// keeps a read of it in the ring.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "c10k/result.hpp"

namespace c10k {

class wake_fd {
 public:
  // Returns a non-blocking, close-on-exec eventfd, or the error eventfd(2) reported.
  static result<wake_fd> make() noexcept {
    const int fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) return errno_code(errno);
    return wake_fd(fd);
  }

  wake_fd() noexcept = default;
  wake_fd(wake_fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  wake_fd& operator=(wake_fd&& o) noexcept {
    std::swap(fd_, o.fd_);
    return *this;
  }
  ~wake_fd() {
    if (fd_ >= 0) ::close(fd_);
  }

  // The eventfd, for the mechanism to watch (-1 when empty).
  int fd() const noexcept { return fd_; }
  // Makes the eventfd readable; thread-safe.
  void signal() const noexcept { (void)::eventfd_write(fd_, 1); }
  // Reads the count back to zero, so the eventfd stops being readable until the next signal().
  void drain() const noexcept {
    eventfd_t v;
    (void)::eventfd_read(fd_, &v);
  }

 private:
  explicit wake_fd(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

}  // namespace c10k
