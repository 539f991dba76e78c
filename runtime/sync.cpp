#include "c10k/sync.hpp"

namespace c10k {
namespace detail {

sync_wait::~sync_wait() {
  if (queue_) queue_->remove(*this);
  if (scope_) scope_->leave(this);
}

void sync_wait::wait_in(wait_queue& q, waiter w, cancel_scope* scope) noexcept {
  who_ = w;
  loop_ = event_loop::current();
  scope_ = scope;
  q.push(*this);
  if (scope) scope->enter(this);
}

void sync_wait::cancel(std::error_code reason) noexcept {
  if (!queue_) return;  // already woken: the wake wins
  queue_->remove(*this);
  outcome_ = reason;
  loop_->schedule(who_);
}

wait_queue::~wait_queue() {
  for (sync_wait* w = head_; w;) {
    sync_wait* next = w->next_;
    w->queue_ = nullptr;
    w->prev_ = w->next_ = nullptr;
    w = next;
  }
}

void wait_queue::push(sync_wait& w) noexcept {
  w.queue_ = this;
  w.prev_ = tail_;
  w.next_ = nullptr;
  if (tail_) tail_->next_ = &w;
  else head_ = &w;
  tail_ = &w;
}

void wait_queue::remove(sync_wait& w) noexcept {
  if (w.prev_) w.prev_->next_ = w.next_;
  else head_ = w.next_;
  if (w.next_) w.next_->prev_ = w.prev_;
  else tail_ = w.prev_;
  w.prev_ = w.next_ = nullptr;
  w.queue_ = nullptr;
}

void wait_queue::wake_front(std::error_code outcome) noexcept {
  sync_wait* w = head_;
  if (!w) return;
  remove(*w);
  w->outcome_ = outcome;
  w->loop_->schedule(w->who_);
}

}  // namespace detail

void mutex::unlock() noexcept {
  // The lock stays taken: it passes to the first waiter.
  if (!waiters_.empty()) waiters_.wake_front();
  else locked_ = false;
}

void semaphore::release(std::size_t n) noexcept {
  for (; n > 0 && !waiters_.empty(); --n) waiters_.wake_front();
  permits_ += n;
}

}  // namespace c10k
