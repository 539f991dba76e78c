// epoll, in the two ways the paper compares.
//
// Level-triggered: an fd is added to the epoll set the first time an operation on it meets
// EAGAIN, and its interest is widened when the other direction meets EAGAIN. Interest is
// narrowed lazily, only when epoll reports a direction nobody waits on, so a keep-alive
// connection that alternates read and write costs no epoll_ctl per request.
// Edge-triggered: each fd is registered once, for both directions, when it is attached; an edge
// that arrives while nobody waits is dropped safely, because every operation tries the system
// call before it waits.
#include "epoll_backend.hpp"

#include "readiness_backend.hpp"
#include "wake_fd.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <cerrno>

namespace c10k {
namespace {

constexpr std::uint32_t readable_events = EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR;
constexpr std::uint32_t writable_events = EPOLLOUT | EPOLLHUP | EPOLLERR;

class epoll_backend final : public readiness_backend {
 public:
  epoll_backend(epoll_mode mode, ready_queue& ready, int epfd, wake_fd wake)
      : readiness_backend(ready, mode == epoll_mode::level), mode_(mode), epfd_(epfd), wake_(std::move(wake)) {}

  ~epoll_backend() override { ::close(epfd_); }

  std::string_view name() const noexcept override { return mode_ == epoll_mode::edge ? "epoll-et" : "epoll"; }

  result<void> attach(int fd) override {
    if (fd < 0) return std::errc::bad_file_descriptor;
    reset(fd);
    armed_.make_room(fd) = 0;
    if (mode_ == epoll_mode::edge) {
      epoll_event ev{};
      ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
      ev.data.fd = fd;
      ++counters_.syscalls;
      if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) < 0) return errno_code(errno);
      armed_[fd] = ev.events;
    }
    return {};
  }

  std::size_t poll(std::chrono::nanoseconds timeout) override {
    const int ms = timeout_ms(timeout);
    ++counters_.syscalls;
    int n = ::epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), ms);
    if (n < 0) return 0;  // EINTR: the loop simply turns again
    counters_.events += static_cast<std::uint64_t>(n);
    std::size_t completed = 0;
    for (int i = 0; i < n; ++i) {
      const int fd = events_[i].data.fd;
      const std::uint32_t ev = events_[i].events;
      if (fd == wake_.fd()) {
        ++counters_.syscalls;
        wake_.drain();
        continue;
      }
      waiters* w = waiters_of(fd);
      if (!w) continue;
      if (ev & readable_events) completed += on_ready(fd, w->reader, readable_events);
      if (ev & writable_events) completed += on_ready(fd, w->writer, writable_events);
    }
    return completed;
  }

  void wake() noexcept override { wake_.signal(); }

  // Registers the wake-up eventfd; returns the error epoll_ctl reported.
  result<void> watch_wakefd() {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = wake_.fd();
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, wake_.fd(), &ev) < 0) return errno_code(errno);
    return {};
  }

 private:
  // Level-triggered: widen the interest the first time a direction meets EAGAIN. Edge-triggered
  // registered both directions at attach.
  int on_wait(int fd, bool readable, waiters&) noexcept override {
    if (mode_ == epoll_mode::edge) return 0;
    return arm(fd, readable ? readable_events : writable_events);
  }

  // close() removes the fd from the epoll set; no epoll_ctl needed.
  void forget(int fd) noexcept override { armed_[fd] = 0; }

  // Retries the operation waiting in this direction; returns 1 if it completed.
  std::size_t on_ready(int fd, operation*& waiting, std::uint32_t direction) {
    if (!waiting) {
      // Level-triggered epoll would report this again and again: stop watching it.
      if (mode_ == epoll_mode::level) disarm(fd, direction);
      return 0;
    }
    return retry(waiting);
  }

  // Widens the interest of fd by `events`; returns 0 or the errno of epoll_ctl.
  int arm(int fd, std::uint32_t events) noexcept {
    std::uint32_t& armed = armed_[fd];
    const std::uint32_t want = armed | (events & (EPOLLIN | EPOLLOUT | EPOLLRDHUP));
    if (want == armed) return 0;
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = fd;
    ++counters_.syscalls;
    if (::epoll_ctl(epfd_, armed ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) < 0) return errno;
    armed = want;
    return 0;
  }

  void disarm(int fd, std::uint32_t direction) noexcept {
    std::uint32_t& armed = armed_[fd];
    const std::uint32_t want = armed & ~(direction & (EPOLLIN | EPOLLOUT | EPOLLRDHUP));
    if (want == armed) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.fd = fd;
    ++counters_.syscalls;
    // An empty interest set still reports EPOLLHUP/EPOLLERR; remove the fd instead.
    if (want == 0) {
      (void)::epoll_ctl(epfd_, EPOLL_CTL_DEL, fd, &ev);
    } else {
      (void)::epoll_ctl(epfd_, EPOLL_CTL_MOD, fd, &ev);
    }
    armed = want;
  }

  epoll_mode mode_;
  int epfd_;
  wake_fd wake_;
  fd_table<std::uint32_t> armed_;  // per fd: the events epoll watches; 0 when not in the set
  std::array<epoll_event, 512> events_{};
};

}  // namespace

result<std::unique_ptr<backend>> make_epoll_backend(epoll_mode mode, ready_queue& ready) {
  int epfd = ::epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) return errno_code(errno);
  auto wake = wake_fd::make();
  if (!wake) {
    ::close(epfd);
    return wake.error();
  }
  auto b = std::make_unique<epoll_backend>(mode, ready, epfd, std::move(*wake));
  if (auto r = b->watch_wakefd(); !r) return r.error();
  return std::unique_ptr<backend>(std::move(b));
}

}  // namespace c10k
