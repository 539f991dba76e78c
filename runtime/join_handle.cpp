#include "c10k/join_handle.hpp"

#include "c10k/detail/group_core.hpp"

namespace c10k::detail {

spawned_base::~spawned_base() {
  if (handle_) *handle_ = nullptr;  // destroyed with its loop: the handle refers to nothing now
  if (wait_) wait_->p_ = nullptr;
  if (group_) group_->child_lost();
}

void spawned_base::finish(std::coroutine_handle<> frame) noexcept {
  done_ = true;
  // Never resume inline: the joiner runs on a coming turn.
  if (join_wait* w = std::exchange(wait_, nullptr)) loop_.schedule(w->who_);
  if (group_core* g = std::exchange(group_, nullptr)) g->child_done(*this);
  if (!handle_) {
    if (error_ && !taken_) log_lost_exception(error_);
    frame.destroy();
  }
}

void spawned_base::detach() noexcept {
  if (!done_) return;  // the frame goes when the task ends
  if (error_ && !taken_) log_lost_exception(error_);
  frame().destroy();
}

bool join_wait::suspend_with(waiter w, cancel_scope* scope) {
  if (!p_) throw std::logic_error("c10k: join on an empty join_handle");
  if (const std::error_code why = already_cancelled(scope)) {
    outcome_ = why;
    return false;
  }
  if (p_->done_) return false;
  if (p_->wait_) throw std::logic_error("c10k: a task joined by two waiters at once");
  who_ = w;
  scope_ = scope;
  p_->wait_ = this;
  if (scope) scope->enter(this);
  return true;
}

void join_wait::cancel(std::error_code reason) noexcept {
  if (!p_ || p_->wait_ != this) return;  // the task ended first: its end wins
  p_->wait_ = nullptr;
  outcome_ = reason;
  p_->loop_.schedule(who_);
}

spawned_base& join_wait::finish_wait() {
  if (scope_) scope_->leave(this);
  scope_ = nullptr;
  if (outcome_) throw std::system_error(outcome_);
  if (!p_) throw std::logic_error("c10k: the joined task was destroyed with its loop");
  return *p_;
}

void group_core::adopt(spawned_base& child) noexcept {
  ++live_;
  ++refs_;
  child.own_scope_.set_parent(&scope_);
  if (scope_.cancelled()) child.own_scope_.cancel(scope_.reason());
  else scope_.enter(&child.own_scope_);
}

void group_core::child_done(spawned_base& child) noexcept {
  const bool first = first_done_ == npos;
  if (first) first_done_ = child.index_;
  if (child.error_) {
    child.taken_ = true;  // the group reports it (or, for when_any's winner, its handle)
    if (!first_wins_ && !first_error_) {
      first_error_ = child.error_;
      scope_.cancel();
    }
  }
  if (first && first_wins_) scope_.cancel();
  child.own_scope_.set_parent(nullptr);
  child_gone();
}

void group_core::child_lost() noexcept {
  // The loop is being torn down: nobody is woken, the count only keeps the core's life right.
  --live_;
  release();
}

void group_core::child_gone() noexcept {
  if (--live_ == 0 && joiner_) joiner_loop_->schedule(std::exchange(joiner_, {}));
  release();
}

}  // namespace c10k::detail
