#include "readiness_backend.hpp"

#include <cerrno>
#include <utility>

namespace c10k {

bool readiness_backend::start(operation& op) {
  ++counters_.operations;
  waiters* w = waiters_of(op.fd);
  const bool readable = waits_readable(op.kind);
  // Try the system call first, unless the last read found the socket empty.
  if (!(level_triggered_ && w && readable && w->drained && op.kind != op_kind::accept)) {
    const long long r = try_op(op);
    if (r != -EAGAIN) {
      if (w) note_read(*w, op, r);
      op.result = r;
      return false;
    }
  }
  if (!w) {  // never attached: nothing to wait with
    op.result = -EBADF;
    return false;
  }
  w->drained = false;
  operation*& waiting = readable ? w->reader : w->writer;
  if (waiting) {  // a second reader or writer on one fd is a caller bug; refuse it
    op.result = -EBUSY;
    return false;
  }
  if (const int err = on_wait(op.fd, readable, *w)) {
    op.result = -err;
    return false;
  }
  waiting = &op;
  op.in_flight = true;
  return true;
}

void readiness_backend::cancel(operation& op) noexcept {
  if (operation** w = find(op)) {
    *w = nullptr;
    on_unwait(op.fd, table_[op.fd]);
    complete(op, -ECANCELED);
  }
}

void readiness_backend::abandon(operation& op) noexcept {
  if (operation** w = find(op)) {
    *w = nullptr;
    on_unwait(op.fd, table_[op.fd]);
    op.in_flight = false;
  }
}

void readiness_backend::detach(int fd) noexcept {
  waiters* w = waiters_of(fd);
  if (!w) return;
  if (w->reader) complete(*std::exchange(w->reader, nullptr), -ECANCELED);
  if (w->writer) complete(*std::exchange(w->writer, nullptr), -ECANCELED);
  forget(fd);
}

std::size_t readiness_backend::retry(operation*& waiting) {
  if (!waiting) return 0;
  const long long r = try_op(*waiting);
  if (r == -EAGAIN) return 0;  // spurious: keep waiting
  if (waiters* w = waiters_of(waiting->fd)) note_read(*w, *waiting, r);
  complete(*std::exchange(waiting, nullptr), r);
  return 1;
}

operation** readiness_backend::find(operation& op) noexcept {
  if (!op.in_flight) return nullptr;
  waiters* w = waiters_of(op.fd);
  if (!w) return nullptr;
  if (w->reader == &op) return &w->reader;
  if (w->writer == &op) return &w->writer;
  return nullptr;
}

}  // namespace c10k
