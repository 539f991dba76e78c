// io_awaiter: co_await an operation on a loop's backend; yields result<size_t>.
//
// The same awaiter serves every backend and both kinds of waiter: coroutines suspend through
// await_suspend, fibers (later) through suspend_with with a waiter of their own. When the
// backend completes the operation at once (a readiness backend whose first try succeeded),
// the caller never suspends.
#pragma once

#include <coroutine>

#include "c10k/cancel.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/operation.hpp"
#include "c10k/result.hpp"

namespace c10k {

class [[nodiscard]] io_awaiter final : public cancellable, public waiter_awaitable<io_awaiter> {
 public:
  io_awaiter(event_loop& loop, const operation& op) noexcept : loop_(&loop), op_(op) {}
  io_awaiter(const io_awaiter& o) noexcept : cancellable(), waiter_awaitable(), loop_(o.loop_), op_(o.op_) {}  // only before it starts
  io_awaiter& operator=(const io_awaiter&) = delete;
  ~io_awaiter() {
    if (op_.in_flight) {
      loop_->io().abandon(op_);
    } else if (started_ && !resumed_ && op_.kind == op_kind::receive && op_.result > 0) {
      // The receive completed with a lent buffer, but its owner dies before await_resume
      // could hand the buffer to a recv_buffer: give it back here.
      loop_->io().release_buffer(op_.buffer_id);
    }
  }

  // Starts the operation inside `scope`; returns true when `w` will be resumed on completion,
  // false when the result is ready now.
  bool suspend_with(waiter w, cancel_scope* scope) {
    if (already_cancelled(scope)) {
      scope_ = scope;
      op_.result = -ECANCELED;
      return false;
    }
    op_.who = w;
    started_ = true;
    if (!loop_->io().start(op_)) return false;
    suspended_ = true;
    scope_ = scope;
    if (scope) scope->enter(this);
    return true;
  }
  // Bytes moved (0 at end of file), the accepted fd, or the error; the scope's reason when
  // the scope cancelled the operation.
  result<std::size_t> await_resume() noexcept {
    resumed_ = true;
    if (scope_) {
      scope_->leave(this);
      if (op_.result == -ECANCELED && scope_->cancelled()) return scope_->reason();
    }
    return from_syscall(op_.result);
  }

  void cancel(std::error_code) noexcept override { loop_->io().cancel(op_); }
  wait_info describe() const noexcept override { return {name_of(op_.kind), op_.fd}; }

  // True when the operation had to wait for the backend (it did not complete on first try).
  bool waited() const noexcept { return suspended_; }
  operation& op() noexcept { return op_; }

 private:
  event_loop* loop_;
  operation op_;
  cancel_scope* scope_ = nullptr;
  bool suspended_ = false;
  bool started_ = false;  // start() was called: the operation is (or was) the backend's
  bool resumed_ = false;  // await_resume took the result (a receive's buffer with it)
};

}  // namespace c10k
