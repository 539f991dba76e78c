// poll(2), the middle one of the three mechanisms the paper compares.
//
// The backend keeps one pollfd array that holds exactly the fds somebody waits on: an fd enters
// it the first time an operation on it meets EAGAIN (POLLIN for reads and accepts, POLLOUT for
// the rest) and leaves it, or loses that direction, as soon as nobody waits there any more, so
// poll never reports an fd nobody waits on. An index fd -> position makes adding and removing
// O(1) (removal swaps the last entry into the hole). Changing interest costs no system call,
// unlike epoll_ctl, but every poll() hands the whole array to the kernel, which checks every
// entry: the cost of one call grows with the number of fds waited on, not with the number that
// are ready. That per-call O(registered fds) is what the comparison with epoll measures.
// Entry 0 is always the wake-up eventfd.
#include "poll_backend.hpp"

#include "readiness_backend.hpp"
#include "wake_fd.hpp"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

namespace c10k {
namespace {

// POLLHUP, POLLERR and POLLNVAL are reported whatever was asked for; they make both directions
// ready, and the retried system call reports the error.
constexpr short failure_events = POLLHUP | POLLERR | POLLNVAL;
constexpr short readable_events = POLLIN | failure_events;
constexpr short writable_events = POLLOUT | failure_events;

class poll_backend final : public readiness_backend {
 public:
  poll_backend(ready_queue& ready, wake_fd wake) : readiness_backend(ready, /*level_triggered=*/true), wake_(std::move(wake)) {
    fds_.push_back(pollfd{wake_.fd(), POLLIN, 0});
  }

  std::string_view name() const noexcept override { return "poll"; }

  result<void> attach(int fd) override {
    if (fd < 0) return std::errc::bad_file_descriptor;
    reset(fd);
    index_.make_room(fd);
    // A stale entry would make poll watch a new file under an old interest.
    if (index_[fd] >= 0) remove_entry(fd);
    return {};
  }

  std::size_t poll(std::chrono::nanoseconds timeout) override {
    const int ms = timeout_ms(timeout);
    ++counters_.syscalls;
    int n = ::poll(fds_.data(), fds_.size(), ms);
    if (n <= 0) return 0;  // timeout, or EINTR: the loop simply turns again
    counters_.events += static_cast<std::uint64_t>(n);
    std::size_t completed = 0;
    // Walk backwards: completing an operation may remove its own entry, which swaps the last
    // entry into its place, and the last entry has already been seen. Entries below this one
    // never move, so each entry poll filled in is visited exactly once.
    int left = n;
    for (std::size_t i = fds_.size(); i-- > 0 && left > 0;) {
      const pollfd p = fds_[i];
      if (p.revents == 0) continue;
      --left;
      fds_[i].revents = 0;
      if (p.fd == wake_.fd()) {
        ++counters_.syscalls;
        wake_.drain();
        continue;
      }
      waiters& w = *waiters_of(p.fd);
      if (p.revents & readable_events) completed += retry(w.reader);
      if (p.revents & writable_events) completed += retry(w.writer);
      update_entry(p.fd, w.reader, w.writer);
    }
    return completed;
  }

  void wake() noexcept override { wake_.signal(); }

 private:
  int on_wait(int fd, bool readable, waiters& w) noexcept override {
    update_entry(fd, readable || w.reader, !readable || w.writer);
    return 0;
  }
  void on_unwait(int fd, waiters& w) noexcept override { update_entry(fd, w.reader, w.writer); }
  void forget(int fd) noexcept override {
    if (index_[fd] >= 0) remove_entry(fd);
  }

  // Makes fd's entry ask for exactly the directions somebody waits on: adds it, narrows or
  // widens it, or removes it when nobody waits (poll would report its hang-ups forever).
  void update_entry(int fd, bool in, bool out) noexcept {
    const short want = static_cast<short>((in ? POLLIN : 0) | (out ? POLLOUT : 0));
    int& index = index_[fd];
    if (want == 0) {
      if (index >= 0) remove_entry(fd);
      return;
    }
    if (index < 0) {
      index = static_cast<int>(fds_.size());
      fds_.push_back(pollfd{fd, want, 0});
    } else {
      fds_[index].events = want;
    }
  }

  // Takes fd's entry out of the array by moving the last entry into its place.
  void remove_entry(int fd) noexcept {
    const std::size_t hole = static_cast<std::size_t>(index_[fd]);
    if (hole != fds_.size() - 1) {
      fds_[hole] = fds_.back();
      index_[fds_[hole].fd] = static_cast<int>(hole);
    }
    fds_.pop_back();
    index_[fd] = -1;
  }

  wake_fd wake_;
  fd_table<int> index_{-1};   // per fd: its position in fds_, or -1
  std::vector<pollfd> fds_;  // fds_[0] is the wake_fd; the rest are the fds somebody waits on
};

}  // namespace

result<std::unique_ptr<backend>> make_poll_backend(ready_queue& ready) {
  auto wake = wake_fd::make();
  if (!wake) return wake.error();
  return std::unique_ptr<backend>(std::make_unique<poll_backend>(ready, std::move(*wake)));
}

}  // namespace c10k
