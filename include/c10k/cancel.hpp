// cancel_scope: a switch that ends whatever a chain of awaits is waiting on, and the deadline
// it may carry.
//
// A scope is handed down the chain of co_awaits (each task's promise carries it; a fiber has
// one too). Every wait in flight inside it (an operation, a sleep, a sync wait, a join, a whole
// nested scope) registers itself with the scope: an intrusive list through the waits
// themselves, so entering and leaving cost a few stores and no allocation, however many
// operations a scope covers (a task group's children all share one). cancel() completes each
// registered wait at once with the scope's reason, and any later wait in the scope fails with
// it without starting. Scopes nest (in_scope, with_timeout): the inner one registers with the
// outer for as long as the await lasts, so cancelling an outer one cancels the inner.
//
// Deadlines: set_deadline(t) arms a timer on the current loop that cancels the scope with
// errc::timed_out at t. A nested scope inherits its parents' deadlines: deadline() is the
// earliest of its own and every enclosing scope's (they cancel it through the nesting when they
// pass). Code reads its budget with `co_await current_scope()` (or fiber::await of it) and
// deadline()/remaining(), e.g. to tell an upstream how long it may take.
//
// The task dump reads the same list: each wait says what it is (describe(), a virtual that the
// wait's own path never calls), so a dump can show what a chain of awaits waits on now without
// anything recorded per wait.
#pragma once

#include <chrono>
#include <coroutine>
#include <string>
#include <system_error>

#include "c10k/detail/coroutine_host.hpp"
#include "c10k/detail/timer_heap.hpp"
#include "c10k/waiter.hpp"

namespace c10k {

class event_loop;
class cancel_scope;

// What a wait is, as the task dump shows it.
struct wait_info {
  const char* what = "wait";  // its kind: "sleep", "receive", "mutex", "offload", ...
  int fd = -1;                // an I/O operation's fd; -1 for other waits
  clock::time_point ends = clock::time_point::max();  // when it ends by itself (a sleep's time)
  const cancel_scope* nested = nullptr;  // a nested scope: the waits registered in it
};

// Something in flight that can be asked to finish early.
class cancellable {
 public:
  // Makes the pending work finish soon with `reason`.
  virtual void cancel(std::error_code reason) noexcept = 0;
  // What this wait is (for the task dump, on the wait's loop thread; never on its own path).
  virtual wait_info describe() const noexcept { return {}; }

 protected:
  cancellable() = default;
  cancellable(const cancellable&) noexcept {}  // a copy is not registered anywhere
  cancellable& operator=(const cancellable&) noexcept { return *this; }
  // A wait destroyed while registered (its frame is being destroyed) leaves its scope.
  ~cancellable() {
    if (pprev_) unlink();
  }

 private:
  friend class cancel_scope;
  void unlink() noexcept {
    *pprev_ = next_;
    if (next_) next_->pprev_ = pprev_;
    next_ = nullptr;
    pprev_ = nullptr;
  }
  cancellable* next_ = nullptr;
  cancellable** pprev_ = nullptr;  // the link pointing at this one; nullptr when not registered
};

class cancel_scope final : public cancellable, private timer_entry {
 public:
  cancel_scope() = default;
  cancel_scope(const cancel_scope&) = delete;
  cancel_scope& operator=(const cancel_scope&) = delete;
  ~cancel_scope() {
    if (queued()) disarm();
    if (head_) forget_all();
  }

  // Cancels the scope with `reason` (operation_canceled by default): every registered wait
  // ends with it; later calls do nothing.
  void cancel(std::error_code reason = std::make_error_code(std::errc::operation_canceled)) noexcept override {
    if (reason_) return;
    reason_ = reason;
    if (head_) cancel_all();
  }
  // True once cancel() was called.
  bool cancelled() const noexcept { return static_cast<bool>(reason_); }
  // The reason given to cancel(), or an empty error_code.
  std::error_code reason() const noexcept { return reason_; }

  // Makes the scope end with errc::timed_out at `at` (a timer on the current loop), unless it
  // already has an earlier deadline. Call on the loop the scope's waits run on (throws
  // std::logic_error outside a loop).
  void set_deadline(clock::time_point at);
  // set_deadline(now + d).
  void set_timeout(clock::duration d);
  // The earliest deadline of this scope and the scopes enclosing it now; time_point::max()
  // when none has one.
  clock::time_point deadline() const noexcept;
  // True when deadline() is a real time.
  bool has_deadline() const noexcept { return deadline() != clock::time_point::max(); }
  // Time left until deadline(): duration::max() without a deadline, zero once it passed.
  clock::duration remaining() const noexcept;

  // For awaiters: c is now one of the waits this scope covers (until leave(c)). A wait is
  // registered with at most one scope at a time.
  void enter(cancellable* c) noexcept {
    if (c->pprev_) c->unlink();
    c->next_ = head_;
    if (head_) head_->pprev_ = &c->next_;
    c->pprev_ = &head_;
    head_ = c;
  }
  // For awaiters: c no longer waits (nothing when it is not registered).
  void leave(cancellable* c) noexcept {
    if (c->pprev_) c->unlink();
  }
  // For nesting (in_scope): this scope runs inside `outer` (nullptr: none) for deadline().
  void set_parent(cancel_scope* outer) noexcept { parent_ = outer; }

  // Names the scope in the task dump (a string that outlives it), e.g. "request deadline".
  void set_label(const char* label) noexcept { label_ = label; }
  // The deadline set on this scope itself (not its parents'); time_point::max() when none.
  clock::time_point own_deadline() const noexcept { return loop_ ? timer_entry::deadline : clock::time_point::max(); }
  // A nested scope, as a wait of its outer one: its label ("scope" without), its own deadline.
  wait_info describe() const noexcept override {
    return {label_ ? label_ : "scope", -1, own_deadline(), this};
  }
  // Calls f(const cancellable&) for each wait registered in this scope now (a nested scope is
  // one of them: its describe().nested leads to its own). For the task dump, on the scope's loop.
  template <typename F>
  void for_each_wait(F&& f) const {
    for (const cancellable* c = head_; c; c = c->next_) f(*c);
  }

 private:
  void cancel_all() noexcept;
  void forget_all() noexcept;
  void disarm() noexcept;

  std::error_code reason_;
  cancellable* head_ = nullptr;   // the waits registered now
  cancel_scope* parent_ = nullptr;
  event_loop* loop_ = nullptr;    // where the deadline's timer is armed
  const char* label_ = nullptr;   // the task dump's name for it
};

// Appends to out, for the task dump, what the waits registered in `scope` now are (depth
// first through nested scopes): "; <label> in 1.250 s" for a labelled scope with a deadline of
// its own, "; awaiting <what>[ on fd N] (ends in .., deadline in ..)" for each wait, with the
// time it ends by itself and the deadline of the scopes it waits in, counted from `now`.
// Call on the loop the scope's waits run on.
void describe_waits(const cancel_scope& scope, std::string& out, clock::time_point now);

// The check every wait makes before it starts: the reason of `scope` when it is already
// cancelled (the wait must end at once with it), an empty error_code otherwise or without a scope.
inline std::error_code already_cancelled(const cancel_scope* scope) noexcept {
  return scope ? scope->reason() : std::error_code{};
}

// The scope of the coroutine behind h (nullptr for coroutines that carry none).
template <typename P>
cancel_scope* scope_of(std::coroutine_handle<P> h) noexcept {
  if constexpr (requires { h.promise().scope_; }) return h.promise().scope_;
  else return nullptr;
}

// `co_await current_scope()` (fiber::await(current_scope()) on a fiber): the cancel_scope the
// caller runs in, or nullptr; never suspends. Read its deadline()/remaining() for the budget.
struct [[nodiscard]] current_scope {
  cancel_scope* scope_ = nullptr;
  bool await_ready() const noexcept { return false; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> h) noexcept {
    scope_ = scope_of(h);
    return false;
  }
  bool suspend_with(waiter, cancel_scope* scope) noexcept {
    scope_ = scope;
    return false;
  }
  cancel_scope* await_resume() const noexcept { return scope_; }
};

// The coroutine face of an awaiter whose core is `bool suspend_with(waiter, cancel_scope*)`
// (true: w will be resumed later; false: the result is ready now). Coroutines reach it through
// await_suspend, scoped awaiters through suspend_in, fibers call suspend_with directly; on a
// fiber that hosts coroutines, the first two park the fiber (coroutine_host.hpp).
template <typename Derived>
class waiter_awaitable {
 public:
  bool await_ready() const noexcept { return false; }
  template <typename P>
  bool await_suspend(std::coroutine_handle<P> h) {
    return detail::suspend_or_park(*static_cast<Derived*>(this), waiter::of(h), scope_of(h));
  }
  bool suspend_in(std::coroutine_handle<> h, cancel_scope* scope) {
    return detail::suspend_or_park(*static_cast<Derived*>(this), waiter::of(h), scope);
  }
};

}  // namespace c10k
