// cancel_scope: a switch that ends whatever a chain of awaits is waiting on.
//
// A scope is handed down the chain of co_awaits (each task's promise carries it), and the
// operation in flight registers itself as the scope's current one. cancel() completes that
// operation at once with the scope's reason, and any later operation in the scope fails with
// it without starting. with_timeout is a scope plus a timer; a server drains idle connections
// by cancelling their scopes. Scopes nest: cancelling an outer one cancels the inner.
#pragma once

#include <coroutine>
#include <system_error>

#include "c10k/detail/coroutine_host.hpp"
#include "c10k/waiter.hpp"

namespace c10k {

// Something in flight that can be asked to finish early.
class cancellable {
 public:
  // Makes the pending work finish soon with `reason`.
  virtual void cancel(std::error_code reason) noexcept = 0;

 protected:
  ~cancellable() = default;
};

class cancel_scope final : public cancellable {
 public:
  cancel_scope() = default;
  cancel_scope(const cancel_scope&) = delete;
  cancel_scope& operator=(const cancel_scope&) = delete;

  // Cancels the scope with `reason` (operation_canceled by default); later calls do nothing.
  void cancel(std::error_code reason = std::make_error_code(std::errc::operation_canceled)) noexcept override {
    if (reason_) return;
    reason_ = reason;
    if (current_) current_->cancel(reason);
  }
  // True once cancel() was called.
  bool cancelled() const noexcept { return static_cast<bool>(reason_); }
  // The reason given to cancel(), or an empty error_code.
  std::error_code reason() const noexcept { return reason_; }

  // For awaiters: c is now what this scope waits on (until leave(c)).
  void enter(cancellable* c) noexcept { current_ = c; }
  void leave(cancellable* c) noexcept {
    if (current_ == c) current_ = nullptr;
  }

 private:
  std::error_code reason_;
  cancellable* current_ = nullptr;
};

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
