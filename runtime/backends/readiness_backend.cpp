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
  w->deferred = false;
  if (w->reader) complete(*std::exchange(w->reader, nullptr), -ECANCELED);
  if (w->writer) complete(*std::exchange(w->writer, nullptr), -ECANCELED);
  forget(fd);
}

std::size_t readiness_backend::retry(operation*& waiting) {
  if (!waiting) return 0;
  if (waiting->kind == op_kind::receive) {
    // A receive is read at its turn in the ready queue, just before its reader resumes, not
    // here: one poll reporting 500 sockets would otherwise lend 500 buffers at once, each kept
    // until its reader ran (10,000 idle connections sending at once grew the pool by 60 B per
    // connection). Read at its turn, a buffer is lent only while its reader copies the bytes
    // out, and they are still in the cache when it does.
    waiters* w = waiters_of(waiting->fd);
    if (w && !w->deferred) {
      w->deferred = true;
      if (deferred_.empty()) ready_.push(waiter{&readiness_backend::read_deferred, this});
      deferred_.push_back(waiting->fd);
    }
    return 1;
  }
  const long long r = try_op(*waiting);
  if (r == -EAGAIN) return 0;  // spurious: keep waiting
  if (waiters* w = waiters_of(waiting->fd)) note_read(*w, *waiting, r);
  complete(*std::exchange(waiting, nullptr), r);
  return 1;
}

// Reads each receive retry() deferred and resumes its reader at once, one after the other, so
// each buffer goes back before the next is lent. A receive cancelled or abandoned meanwhile is
// no longer its fd's reader and is skipped; one that finds nothing after all keeps waiting.
void readiness_backend::read_deferred(void* self) {
  auto* b = static_cast<readiness_backend*>(self);
  b->reading_.swap(b->deferred_);
  for (const int fd : b->reading_) {
    waiters* w = b->waiters_of(fd);
    if (!w || !w->deferred) continue;
    w->deferred = false;
    operation* op = w->reader;
    if (!op || op->kind != op_kind::receive) continue;
    const long long r = b->try_op(*op);
    if (r == -EAGAIN) continue;
    note_read(*w, *op, r);
    w->reader = nullptr;
    op->result = r;
    op->in_flight = false;
    op->who.resume();
  }
  b->reading_.clear();
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
