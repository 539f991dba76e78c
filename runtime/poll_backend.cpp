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

#include <poll.h>
#include <sys/eventfd.h>
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

class poll_backend final : public backend {
 public:
  poll_backend(ready_queue& ready, int wakefd) : backend(ready), wakefd_(wakefd) {
    fds_.push_back(pollfd{wakefd_, POLLIN, 0});
  }

  ~poll_backend() override { ::close(wakefd_); }

  std::string_view name() const noexcept override { return "poll"; }

  result<void> attach(int fd) override {
    if (fd < 0) return std::errc::bad_file_descriptor;
    if (static_cast<std::size_t>(fd) >= slots_.size()) slots_.resize(static_cast<std::size_t>(fd) * 2 + 64);
    // A stale entry would make poll watch a new file under an old interest.
    if (slots_[fd].index >= 0) remove_entry(slots_[fd]);
    slots_[fd] = {};
    return {};
  }

  void detach(int fd) noexcept override {
    if (fd < 0 || static_cast<std::size_t>(fd) >= slots_.size()) return;
    slot& s = slots_[fd];
    if (s.reader) complete(*std::exchange(s.reader, nullptr), -ECANCELED);
    if (s.writer) complete(*std::exchange(s.writer, nullptr), -ECANCELED);
    if (s.index >= 0) remove_entry(s);
    s = {};
  }

  bool start(operation& op) override {
    ++counters_.operations;
    long long r = try_op(op);
    if (r != -EAGAIN) {
      op.result = r;
      return false;
    }
    slot& s = slots_[op.fd];
    operation*& waiting = waits_readable(op.kind) ? s.reader : s.writer;
    if (waiting) {  // a second reader or writer on one fd is a caller bug; refuse it
      op.result = -EBUSY;
      return false;
    }
    waiting = &op;
    op.in_flight = true;
    update_entry(op.fd, s);
    return true;
  }

  void cancel(operation& op) noexcept override {
    if (operation** w = find(op)) {
      *w = nullptr;
      update_entry(op.fd, slots_[op.fd]);
      complete(op, -ECANCELED);
    }
  }

  void abandon(operation& op) noexcept override {
    if (operation** w = find(op)) {
      *w = nullptr;
      update_entry(op.fd, slots_[op.fd]);
      op.in_flight = false;
    }
  }

  std::size_t poll(std::chrono::nanoseconds timeout) override {
    int ms = -1;
    if (timeout.count() >= 0) {
      // Round up: waking a little late is harmless, waking early spins on the timer heap.
      ms = static_cast<int>(std::min<long long>((timeout.count() + 999'999) / 1'000'000, 1'000'000));
    }
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
      if (p.fd == wakefd_) {
        eventfd_t v;
        ++counters_.syscalls;
        (void)::eventfd_read(wakefd_, &v);
        continue;
      }
      slot& s = slots_[p.fd];
      if (p.revents & readable_events) completed += on_ready(s.reader);
      if (p.revents & writable_events) completed += on_ready(s.writer);
      update_entry(p.fd, s);
    }
    return completed;
  }

  void wake() noexcept override { (void)::eventfd_write(wakefd_, 1); }

 private:
  struct slot {
    operation* reader = nullptr;
    operation* writer = nullptr;
    int index = -1;  // position in fds_, or -1 when fd is not in the array
  };

  // Retries the operation waiting in this direction; returns 1 if it completed.
  std::size_t on_ready(operation*& waiting) {
    if (!waiting) return 0;
    long long r = try_op(*waiting);
    if (r == -EAGAIN) return 0;  // spurious: keep waiting
    complete(*std::exchange(waiting, nullptr), r);
    return 1;
  }

  // Makes fd's entry ask for exactly the directions somebody waits on: adds it, narrows or
  // widens it, or removes it when nobody waits (poll would report its hang-ups forever).
  void update_entry(int fd, slot& s) noexcept {
    const short want = static_cast<short>((s.reader ? POLLIN : 0) | (s.writer ? POLLOUT : 0));
    if (want == 0) {
      if (s.index >= 0) remove_entry(s);
      return;
    }
    if (s.index < 0) {
      s.index = static_cast<int>(fds_.size());
      fds_.push_back(pollfd{fd, want, 0});
    } else {
      fds_[s.index].events = want;
    }
  }

  // Takes s's entry out of the array by moving the last entry into its place.
  void remove_entry(slot& s) noexcept {
    const std::size_t hole = static_cast<std::size_t>(s.index);
    if (hole != fds_.size() - 1) {
      fds_[hole] = fds_.back();
      slots_[fds_[hole].fd].index = static_cast<int>(hole);
    }
    fds_.pop_back();
    s.index = -1;
  }

  operation** find(operation& op) noexcept {
    if (!op.in_flight || op.fd < 0 || static_cast<std::size_t>(op.fd) >= slots_.size()) return nullptr;
    slot& s = slots_[op.fd];
    if (s.reader == &op) return &s.reader;
    if (s.writer == &op) return &s.writer;
    return nullptr;
  }

  int wakefd_;
  std::vector<slot> slots_;
  std::vector<pollfd> fds_;  // fds_[0] is wakefd_; the rest are the fds somebody waits on
};

}  // namespace

result<std::unique_ptr<backend>> make_poll_backend(ready_queue& ready) {
  int wakefd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wakefd < 0) return errno_code(errno);
  return std::unique_ptr<backend>(std::make_unique<poll_backend>(ready, wakefd));
}

}  // namespace c10k
