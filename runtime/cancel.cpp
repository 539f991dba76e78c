#include "c10k/cancel.hpp"

#include <algorithm>
#include <iterator>
#include <stdexcept>

#include <fmt/format.h>

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

namespace {

// "1.250 s" from now to at (negative once it passed).
std::string seconds_from(clock::time_point now, clock::time_point at) {
  return fmt::format("{:.3f} s", std::chrono::duration<double>(at - now).count());
}

}  // namespace

void describe_waits(const cancel_scope& scope, std::string& out, clock::time_point now) {
  auto at = std::back_inserter(out);
  scope.for_each_wait([&](const cancellable& c) {
    const wait_info w = c.describe();
    if (w.nested) {
      if (w.nested != &scope) {  // (a scope never registers with itself; a dump must not loop)
        if (w.ends != clock::time_point::max() && std::string_view(w.what) != "scope")
          fmt::format_to(at, "; {} in {}", w.what, seconds_from(now, w.ends));
        describe_waits(*w.nested, out, now);
      }
      return;
    }
    fmt::format_to(at, "; awaiting {}", w.what);
    if (w.fd >= 0) fmt::format_to(at, " on fd {}", w.fd);
    const clock::time_point deadline = scope.deadline();
    if (w.ends == clock::time_point::max() && deadline == clock::time_point::max()) return;
    out += " (";
    if (w.ends != clock::time_point::max()) fmt::format_to(at, "ends in {}", seconds_from(now, w.ends));
    if (w.ends != clock::time_point::max() && deadline != clock::time_point::max()) out += ", ";
    if (deadline != clock::time_point::max()) fmt::format_to(at, "deadline in {}", seconds_from(now, deadline));
    out += ')';
  });
}

}  // namespace c10k
