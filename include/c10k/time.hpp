// Time on the loop: sleep_for / sleep_until, yield, and with_timeout.
#pragma once

#include <chrono>
#include <coroutine>
#include <type_traits>
#include <utility>

#include "c10k/cancel.hpp"
#include "c10k/event_loop.hpp"

namespace c10k {

using namespace std::chrono_literals;

class [[nodiscard]] sleep_awaiter final : public cancellable, public waiter_awaitable<sleep_awaiter>, private timer_entry {
 public:
  sleep_awaiter(event_loop& loop, clock::time_point deadline) noexcept : loop_(&loop) { this->deadline = deadline; }
  sleep_awaiter(const sleep_awaiter& o) noexcept : cancellable(), waiter_awaitable(), timer_entry(), loop_(o.loop_) {
    deadline = o.deadline;
  }
  ~sleep_awaiter() { loop_->remove_timer(*this); }

  // Arms the timer; returns false when the scope was already cancelled.
  bool suspend_with(waiter w, cancel_scope* scope) {
    scope_ = scope;
    if (const std::error_code why = already_cancelled(scope)) {
      outcome_ = why;
      return false;
    }
    who_ = w;
    fire = [](timer_entry* t) {
      auto* self = static_cast<sleep_awaiter*>(t);
      self->loop_->schedule(self->who_);
    };
    loop_->add_timer(*this);
    if (scope) scope->enter(this);
    return true;
  }
  // Succeeds once the time passed; the scope's reason when it was cancelled first.
  result<void> await_resume() noexcept {
    if (scope_) scope_->leave(this);
    return outcome_;
  }

  void cancel(std::error_code reason) noexcept override {
    if (!queued()) return;
    loop_->remove_timer(*this);
    outcome_ = reason;
    loop_->schedule(who_);
  }
  wait_info describe() const noexcept override { return {"sleep", -1, deadline}; }

 private:
  event_loop* loop_;
  waiter who_;
  cancel_scope* scope_ = nullptr;
  std::error_code outcome_;
};

// Suspends the caller until `deadline` on the current loop.
inline sleep_awaiter sleep_until(clock::time_point deadline) { return {*event_loop::current(), deadline}; }
// Suspends the caller for `d` on the current loop.
template <typename Rep, typename Period>
sleep_awaiter sleep_for(std::chrono::duration<Rep, Period> d) {
  event_loop& loop = *event_loop::current();
  return {loop, clock::now() + std::chrono::duration_cast<clock::duration>(d)};
}

// co_await yield(): lets every other ready waiter and the pending I/O run first.
struct [[nodiscard]] yield {
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) const { return detail::suspend_or_park(*this, waiter::of(h), nullptr); }
  // Queues w behind the pending I/O; returns true (w runs later).
  bool suspend_with(waiter w, cancel_scope*) const {
    event_loop::current()->schedule_after_poll(w);
    return true;
  }
  void await_resume() const noexcept {}
};

namespace detail {
template <typename A>
concept has_member_co_await = requires(A&& a) { std::forward<A>(a).operator co_await(); };

// Awaits an A inside a cancel_scope that is linked under the caller's scope for as long as
// the await lasts, so cancelling the caller's scope reaches A too.
template <typename A>
class scoped {
 public:
  scoped(cancel_scope& scope, A&& a) : scope_(&scope), a_(std::move(a)) {}
  scoped(const scoped&) = delete;
  ~scoped() { unlink(); }

  bool await_ready() const noexcept { return false; }
  template <typename P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) {
    parent_ = scope_of(h);
    if (parent_) {
      scope_->set_parent(parent_);  // for deadline(): the outer deadlines apply inside
      if (parent_->cancelled()) scope_->cancel(parent_->reason());
      else parent_->enter(scope_);
    }
    if constexpr (std::is_same_v<decltype(inner().suspend_in(h, scope_)), bool>) {
      return inner().suspend_in(h, scope_) ? std::noop_coroutine() : std::coroutine_handle<>(h);
    } else {
      return inner().suspend_in(h, scope_);
    }
  }
  decltype(auto) await_resume() {
    unlink();
    return inner().await_resume();
  }

 private:
  decltype(auto) inner() {
    if constexpr (has_member_co_await<A>) return std::move(a_).operator co_await();
    else return (a_);
  }
  void unlink() noexcept {
    if (parent_) {
      parent_->leave(scope_);
      scope_->set_parent(nullptr);
    }
    parent_ = nullptr;
  }

  cancel_scope* scope_;
  cancel_scope* parent_ = nullptr;
  A a_;
};
}  // namespace detail

// co_await in_scope(s, x): awaits x (an operation, a sleep, or a task) inside the cancel_scope
// s, so that s.cancel() ends it. Yields what x yields.
template <typename A>
detail::scoped<std::remove_cvref_t<A>> in_scope(cancel_scope& s, A&& a) {
  return {s, std::forward<A>(a)};
}

// co_await with_timeout(d, x): awaits x in a cancel_scope whose deadline is d from now (the
// scope cancels itself with errc::timed_out then). Yields what x yields; operations the
// deadline cut short report timed_out, and a task sees every later operation fail with it too.
// Inside x, current_scope()->deadline() is the earlier of this one and any enclosing deadline.
template <typename A>
class [[nodiscard]] timeout_awaiter final {
 public:
  timeout_awaiter(event_loop& loop, clock::duration d, A&& a) : loop_(&loop), limit_(d), inner_(scope_, std::move(a)) {}

  bool await_ready() const noexcept { return false; }
  template <typename P>
  std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) {
    scope_.set_deadline(loop_->now() + limit_);
    return inner_.await_suspend(h);
  }
  decltype(auto) await_resume() { return inner_.await_resume(); }

 private:
  event_loop* loop_;
  clock::duration limit_;
  cancel_scope scope_;
  detail::scoped<A> inner_;
};

template <typename Rep, typename Period, typename A>
timeout_awaiter<std::remove_cvref_t<A>> with_timeout(std::chrono::duration<Rep, Period> d, A&& a) {
  return {*event_loop::current(), std::chrono::duration_cast<clock::duration>(d), std::forward<A>(a)};
}

}  // namespace c10k
