// task_group: a nursery. Children spawned into it run at once on the loop and cannot outlive
// the group's join; the first child to fail cancels the others.
//
//   task_group g;
//   for (auto& peer : peers) g.spawn(notify(peer));
//   co_await g.join();   // waits for every child; rethrows the first one's exception
//
// - Every child runs in a cancel_scope of its own nested in the group's scope, so g.cancel()
//   (or the first failure, or the joiner's scope being cancelled while it waits) cancels every
//   child still running. Give the constructor the spawning code's scope
//   (`task_group g(co_await current_scope())`) to nest the group in it from the start, so that
//   its cancellation and deadline reach the children before join too.
// - A failure is an exception escaping a child: the first one cancels the siblings and join
//   rethrows it once all have ended (later ones are dropped). Error results (result<T>) are
//   values: a child that wants them to count throws them (result::value()).
// - join() always waits for every child, even when its scope is cancelled (the cancellation
//   reaches the children, which then end). Children's values are dropped; use when_all for
//   values, or hand them out through your own state.
// - Destroying a group that still has children (its join was never awaited, e.g. an exception
//   unwound the spawning coroutine) cancels them; they end on their own, owned by the loop.
//   Always join.
#pragma once

#include <cstddef>
#include <exception>
#include <system_error>

#include "c10k/cancel.hpp"
#include "c10k/detail/group_core.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/join_handle.hpp"
#include "c10k/task.hpp"

namespace c10k {

class task_group {
 public:
  // A group nested in `parent` (the spawning code's scope), or in no scope until join.
  explicit task_group(cancel_scope* parent = nullptr) : g_(false), parent_(parent) {
    if (!parent) return;
    g_->scope_.set_parent(parent);
    if (parent->cancelled()) g_->scope_.cancel(parent->reason());
    else parent->enter(&g_->scope_);
  }
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;
  ~task_group() {
    if (g_->live_ > 0) g_->scope_.cancel();
    if (parent_) {
      parent_->leave(&g_->scope_);
      g_->scope_.set_parent(nullptr);
    }
  }

  // Starts t on the current loop as a child of the group (on the loop's next turn).
  template <typename T>
  void spawn(task<T> t) {
    detail::spawn_on(*event_loop::current(), std::move(t), g_.get(), next_index_++).detach();
  }

  class [[nodiscard]] join_awaiter : public waiter_awaitable<join_awaiter> {
   public:
    explicit join_awaiter(detail::group_core* g) noexcept : g_(g), wait_(g) {}
    join_awaiter(join_awaiter&& o) noexcept : waiter_awaitable<join_awaiter>(), g_(o.g_), wait_(o.g_) {}  // only before it waits
    // Returns false when no child runs, else true: w is resumed once the last one ended.
    bool suspend_with(waiter w, cancel_scope* scope) { return wait_.suspend_with(w, scope); }
    // Nothing once every child ended; rethrows the first child's exception.
    void await_resume() {
      wait_.finish();
      if (g_->first_error_) std::rethrow_exception(g_->first_error_);
    }

   private:
    detail::group_core* g_;
    detail::group_wait wait_;
  };

  // The awaitable that waits for every child to end (see above).
  join_awaiter join() noexcept { return join_awaiter(g_.get()); }
  // Cancels every child with `reason`; later children start cancelled.
  void cancel(std::error_code reason = std::make_error_code(std::errc::operation_canceled)) noexcept {
    g_->scope_.cancel(reason);
  }
  // Children still running.
  std::size_t running() const noexcept { return g_->live_; }
  // The scope the children are nested in.
  cancel_scope& scope() noexcept { return g_->scope_; }

 private:
  detail::group_ref g_;
  cancel_scope* parent_;
  std::size_t next_index_ = 0;
};

}  // namespace c10k
