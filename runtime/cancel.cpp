#include "c10k/cancel.hpp"

#include <algorithm>
#include <stdexcept>

#include "c10k/event_loop.hpp"

namespace c10k {

void cancel_scope::cancel_all() noexcept {
  // Each wait leaves the list before it hears the reason, so a wait that leaves or re-enters
  // from its cancel() cannot disturb the walk, and each is cancelled once.
  while (cancellable* c = head_) {
    c->unlink();
    c->cancel(reason_);
  }
}

void cancel_scope::forget_all() noexcept {
  while (cancellable* c = head_) c->unlink();
}

void cancel_scope::disarm() noexcept { loop_->remove_timer(*this); }

void cancel_scope::set_deadline(clock::time_point at) {
  if (loop_ && timer_entry::deadline <= at) return;  // an earlier one is armed (or passed)
  if (queued()) disarm();
  if (reason_) return;
  event_loop* loop = event_loop::current();
  if (!loop) throw std::logic_error("c10k: cancel_scope::set_deadline outside a loop");
  loop_ = loop;
  timer_entry::deadline = at;
  fire = [](timer_entry* t) { static_cast<cancel_scope*>(t)->cancel(std::make_error_code(std::errc::timed_out)); };
  loop_->add_timer(*this);
}

void cancel_scope::set_timeout(clock::duration d) {
  event_loop* loop = event_loop::current();
  set_deadline((loop ? loop->now() : clock::now()) + d);
}

clock::time_point cancel_scope::deadline() const noexcept {
  clock::time_point at = clock::time_point::max();
  for (const cancel_scope* s = this; s; s = s->parent_)
    if (s->loop_) at = std::min(at, s->timer_entry::deadline);
  return at;
}

clock::duration cancel_scope::remaining() const noexcept {
  const clock::time_point at = deadline();
  if (at == clock::time_point::max()) return clock::duration::max();
  const clock::time_point now = clock::now();
  return at > now ? at - now : clock::duration::zero();
}

}  // namespace c10k
