// group_core: what when_all, when_any and task_group share: the children's common scope, the
// count of children still running, the first to finish and the first failure, and the one
// waiter to wake when the last child ends (internal).
//
// Children are spawned tasks (join_handle.hpp) whose own scopes are registered with the
// group's scope, so cancelling the group (a failure, a winner, the waiter's scope) cancels
// every child. The core is refcounted by its owner and by each child still running, so a
// child that outlives its owner (a task_group destroyed without join) still finds it.
#pragma once

#include <cstddef>
#include <exception>
#include <utility>

#include "c10k/cancel.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/join_handle.hpp"

namespace c10k::detail {

class group_core {
 public:
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  // first_wins: the first child to end cancels the others (when_any); otherwise the first to
  // fail does (when_all, task_group).
  explicit group_core(bool first_wins) noexcept : first_wins_(first_wins) {}
  group_core(const group_core&) = delete;
  group_core& operator=(const group_core&) = delete;

  // A new child: counted, its scope nested in the group's.
  void adopt(spawned_base& child) noexcept;
  // The child ended (spawned_base::finish).
  void child_done(spawned_base& child) noexcept;
  // The child's frame was destroyed before it ended (its loop shut down).
  void child_lost() noexcept;

  void retain() noexcept { ++refs_; }
  void release() noexcept {
    if (--refs_ == 0) delete this;
  }

  cancel_scope scope_;                 // the children's scopes are registered here
  std::size_t live_ = 0;               // children still running
  std::size_t first_done_ = npos;      // index of the first child that ended
  std::exception_ptr first_error_;     // the first child's exception (not first_wins)
  waiter joiner_;                      // woken when live_ drops to 0
  event_loop* joiner_loop_ = nullptr;

 private:
  void child_gone() noexcept;
  std::size_t refs_ = 1;
  bool first_wins_;
};

// Owns one reference to a group_core.
class group_ref {
 public:
  explicit group_ref(bool first_wins) : g_(new group_core(first_wins)) {}
  group_ref(group_ref&& o) noexcept : g_(std::exchange(o.g_, nullptr)) {}
  group_ref& operator=(group_ref&&) = delete;
  ~group_ref() {
    if (g_) g_->release();
  }
  group_core* operator->() const noexcept { return g_; }
  group_core* get() const noexcept { return g_; }

 private:
  group_core* g_;
};

// The wait for every child of a group to end. While it waits, the group's scope is nested in
// the waiter's: cancelling the waiter's scope cancels the children, and the wait goes on until
// they have all ended (no child outlives it).
class group_wait {
 public:
  explicit group_wait(group_core* g) noexcept : g_(g) {}
  group_wait(const group_wait&) = delete;
  group_wait& operator=(const group_wait&) = delete;
  ~group_wait() {
    if (waiting_ && g_) g_->joiner_ = {};
    unlink();
  }

  // Returns false when no child runs, true when w will be resumed once the last one ends.
  bool suspend_with(waiter w, cancel_scope* scope) {
    if (scope) {
      outer_ = scope;
      g_->scope_.set_parent(scope);
      if (scope->cancelled()) g_->scope_.cancel(scope->reason());
      else scope->enter(&g_->scope_);
    }
    if (g_->live_ == 0) return false;
    g_->joiner_ = w;
    g_->joiner_loop_ = event_loop::current();
    waiting_ = true;
    return true;
  }
  // For await_resume: the group's scope leaves the waiter's.
  void finish() noexcept {
    waiting_ = false;
    unlink();
  }

 private:
  void unlink() noexcept {
    if (!outer_) return;
    outer_->leave(&g_->scope_);
    g_->scope_.set_parent(nullptr);
    outer_ = nullptr;
  }
  group_core* g_;
  cancel_scope* outer_ = nullptr;
  bool waiting_ = false;
};

}  // namespace c10k::detail

namespace c10k::detail {
template <typename T>
join_handle<T> spawn_on(event_loop& loop, task<T> t, group_core* group, std::size_t index) {
  spawned_frame<T> f = run_spawned(loop, std::move(t));
  spawned_base& p = f.h.promise();
  if (group) {
    p.group_ = group;
    p.index_ = index;
    group->adopt(p);
  }
  join_handle<T> h(&p);
  loop.schedule(waiter::of(f.h));
  return h;
}
}  // namespace c10k::detail
