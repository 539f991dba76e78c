#include "accept.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

namespace c10k::uring {
namespace {

// Connections a multishot accept may queue in the backend while nobody accepts (see
// on_completion); accept loops take them at once, so only a stalled one meets this.
constexpr std::size_t accept_backlog_limit = 1024;

void free_listener(listener_state* l) {
  for (int c : l->backlog) ::close(c);
  delete l;
}

}  // namespace

listeners::~listeners() {
  for (auto& [fd, l] : open_) free_listener(l);
  for (auto& [key, l] : closed_) free_listener(l);
}

bool listeners::start(operation& op) {
  listener_state*& l = open_[op.fd];
  if (!l) {
    l = new listener_state;
    l->fd = op.fd;
  }
  if (!l->backlog.empty()) {
    op.result = l->backlog.front();
    l->backlog.pop_front();
    return false;
  }
  if (l->waiting) {
    op.result = -EBUSY;
    return false;
  }
  l->waiting = &op;
  op.in_flight = true;
  if (!l->multishot) arm(*l);
  return true;
}

bool listeners::forget(operation& op) noexcept {
  auto it = open_.find(op.fd);
  if (it == open_.end() || it->second->waiting != &op) return false;
  it->second->waiting = nullptr;
  return true;
}

void listeners::arm(listener_state& l) {
  io_uring_sqe* sqe = core_.ring_.get_sqe();
  io_uring_prep_multishot_accept(sqe, l.fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  request* r = core_.requests_.make(req_kind::accept, l.fd);
  r->listener = &l;
  l.multishot = r;
  io_uring_sqe_set_data(sqe, r);
}

void listeners::detach(int fd) {
  auto it = open_.find(fd);
  if (it == open_.end()) return;
  listener_state* l = it->second;
  open_.erase(it);
  l->closed = true;
  if (l->waiting) core_.complete(*std::exchange(l->waiting, nullptr), -ECANCELED);
  for (int c : l->backlog) {
    ++core_.counters_.syscalls;
    ::close(c);
  }
  l->backlog.clear();
  if (l->multishot) {
    core_.cancel_request(l->multishot);
    closed_[l] = l;  // freed when the multishot's last completion arrives
    core_.ring_.submit_now();
  } else {
    delete l;
  }
}

std::size_t listeners::on_completion(request& r, int res, unsigned flags) {
  listener_state* l = r.listener;
  std::size_t completed = 0;
  const bool more = flags & IORING_CQE_F_MORE;
  if (res >= 0) {
    if (l->closed) {
      ++core_.counters_.syscalls;
      ::close(res);
    } else if (l->waiting) {
      core_.complete(*std::exchange(l->waiting, nullptr), res);
      completed = 1;
    } else if (l->backlog.size() >= accept_backlog_limit) {
      // The kernel accepts every pending connection in one go, before the cancel below
      // takes effect: what lies beyond the bound is refused, as a full listen queue would.
      ++core_.counters_.syscalls;
      ::close(res);
    } else {
      l->backlog.push_back(res);
      if (l->backlog.size() >= accept_backlog_limit && more && !l->pausing) {
        // Nobody takes them: stop accepting until the backlog drains; new connections
        // wait in the kernel's listen queue (bounded by listen(2)), where they hold no fd.
        l->pausing = true;
        core_.cancel_request(&r);
      }
    }
  } else if (l->waiting && res != -ECANCELED) {
    // EMFILE and friends end the multishot; the caller decides when to try again.
    core_.complete(*std::exchange(l->waiting, nullptr), res);
    completed = 1;
  }
  if (!more) {
    core_.requests_.free(&r);
    l->multishot = nullptr;
    l->pausing = false;
    if (l->closed) {
      closed_.erase(l);
      delete l;
    } else if (l->waiting) {
      arm(*l);
    }
  }
  return completed;
}

}  // namespace c10k::uring
