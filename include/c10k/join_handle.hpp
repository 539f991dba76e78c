// join_handle<T>: the handle event_loop::spawn returns: join a task, cancel it, or drop it.
//
//   join_handle<int> h = loop.spawn(fetch());   // starts on the loop's next turn
//   int n = co_await h;                         // its value, or its exception rethrown
//
// Semantics (as Tokio's JoinHandle and Go's goroutine + context):
// - Each spawned task runs in a cancel_scope of its own; h.cancel(reason) cancels it, so its
//   waits end with the reason (what the task then returns or throws is what a join yields).
// - `co_await h` (fiber::await(h) on a fiber) waits in the awaiter's scope: cancelling that
//   scope ends the wait at once, and the join throws std::system_error with the scope's
//   reason. The task itself keeps running: cancelling a waiter does not cancel what it waits
//   for (h.cancel() does; when_any and task_group cancel their children for you).
// - Dropping the handle detaches the task: it runs on, owned by its loop, and an exception
//   nobody took is logged. A task still alive when its loop is destroyed is destroyed with it;
//   its handle then joins with std::logic_error.
// - A value can be taken once; one coroutine or fiber joins at a time.
#pragma once

#include <coroutine>
#include <exception>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <type_traits>
#include <utility>

#include "c10k/cancel.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/task.hpp"

namespace c10k {

namespace detail {

class group_core;
class join_wait;

// Logs an exception that nobody will take (a detached task's).
void log_lost_exception(std::exception_ptr e) noexcept;

// The part of a spawned task's frame that does not depend on its type.
struct spawned_base : loop_owned {
  cancel_scope own_scope_;              // the task's scope (join_handle::cancel)
  cancel_scope* scope_ = &own_scope_;   // what the awaited task runs in (scope_of)
  join_wait* wait_ = nullptr;           // the join waiting now
  spawned_base** handle_ = nullptr;     // the handle's pointer to this frame; nullptr: detached
  group_core* group_ = nullptr;         // told when the task ends (when_all, when_any, task_group)
  std::size_t index_ = 0;               // the task's place in its group
  std::exception_ptr error_;
  bool done_ = false;
  bool taken_ = false;                  // the value or exception was taken (or the group's)

  spawned_base(event_loop& loop, void* frame) noexcept : loop_owned(loop, frame) {}
  ~spawned_base();

  // At the end of the task: wakes the join, tells the group; destroys the frame when detached.
  void finish(std::coroutine_handle<> frame) noexcept;
  // Nobody holds a handle any more: the frame goes now if the task ended, else when it ends.
  void detach() noexcept;
  std::coroutine_handle<> frame() const noexcept { return std::coroutine_handle<>::from_address(frame_); }
};

template <typename T>
struct spawned_promise;

// The return object of the spawned wrapper coroutine: only its handle.
template <typename T>
struct spawned_frame {
  using promise_type = spawned_promise<T>;
  std::coroutine_handle<promise_type> h;
};

template <typename T>
struct spawned_value {
  std::optional<T> value_;
  template <typename U>
  void return_value(U&& v) { value_.emplace(std::forward<U>(v)); }
};
template <>
struct spawned_value<void> {
  void return_void() noexcept {}
};

template <typename T>
struct spawned_promise final : spawned_base, spawned_value<T> {
  spawned_promise(event_loop& loop, task<T>&)
      : spawned_base(loop, std::coroutine_handle<spawned_promise>::from_promise(*this).address()) {}

  static void* operator new(std::size_t size) { return frame_allocator::allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { frame_allocator::deallocate(p, size); }

  spawned_frame<T> get_return_object() noexcept { return {std::coroutine_handle<spawned_promise>::from_promise(*this)}; }
  std::suspend_always initial_suspend() const noexcept { return {}; }
  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<spawned_promise> h) noexcept { h.promise().finish(h); }
    void await_resume() const noexcept {}
  };
  final_awaiter final_suspend() const noexcept { return {}; }
  void unhandled_exception() noexcept { error_ = std::current_exception(); }

  // The value (rethrows the exception). Once.
  T take() {
    taken_ = true;
    if (error_) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<T>) return std::move(*this->value_);
  }
};

template <typename T>
spawned_frame<T> run_spawned(event_loop&, task<T> param) {
  // A local, not the parameter: a frame destroys its promise (and with it the task's scope,
  // which the task's waits are registered with) before its parameters, so a task held as a
  // parameter would be destroyed after its scope when its loop ends it.
  task<T> t = std::move(param);
  if constexpr (std::is_void_v<T>) co_await std::move(t);
  else co_return co_await std::move(t);
}

// The wait of a join: registered with the awaiter's scope, which may end it early.
class join_wait : public cancellable {
 public:
  explicit join_wait(spawned_base* p) noexcept : p_(p) {}
  join_wait(const join_wait& o) noexcept : cancellable(), p_(o.p_) {}  // only before it waits
  join_wait& operator=(const join_wait&) = delete;
  ~join_wait() {
    if (p_ && p_->wait_ == this) p_->wait_ = nullptr;
  }

  // Returns false when the task already ended (or the scope was cancelled), else waits for it.
  bool suspend_with(waiter w, cancel_scope* scope);
  void cancel(std::error_code reason) noexcept override;
  wait_info describe() const noexcept override { return {"join"}; }

 protected:
  // For await_resume: leaves the scope; throws when the wait was cut short or the task is gone.
  spawned_base& finish_wait();

 private:
  friend struct spawned_base;
  spawned_base* p_;
  waiter who_;
  cancel_scope* scope_ = nullptr;
  std::error_code outcome_;
};

}  // namespace detail

template <typename T>
class join_handle {
 public:
  join_handle() noexcept = default;
  join_handle(join_handle&& o) noexcept : p_(std::exchange(o.p_, nullptr)) { relink(); }
  join_handle& operator=(join_handle&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
      relink();
    }
    return *this;
  }
  ~join_handle() { reset(); }

  class [[nodiscard]] awaiter : public detail::join_wait, public waiter_awaitable<awaiter> {
   public:
    using detail::join_wait::join_wait;
    using detail::join_wait::suspend_with;
    // The task's value; rethrows its exception; throws std::system_error with the scope's
    // reason when the awaiter's scope ended the wait first.
    T await_resume() { return static_cast<detail::spawned_promise<T>&>(finish_wait()).take(); }
  };

  // co_await h: waits for the task to end (see the top of this file).
  awaiter operator co_await() & noexcept { return awaiter(p_); }
  awaiter operator co_await() && noexcept { return awaiter(p_); }
  // The same wait as an awaitable of its own, for with_timeout(d, h.join()) and in_scope,
  // which would otherwise take the handle itself.
  awaiter join() noexcept { return awaiter(p_); }

  // Cancels the task's own scope with `reason`: its waits end with it.
  void cancel(std::error_code reason = std::make_error_code(std::errc::operation_canceled)) noexcept {
    if (p_) p_->own_scope_.cancel(reason);
  }
  // True once the task ended (returned or threw).
  bool done() const noexcept { return p_ && p_->done_; }
  // True while this handle refers to a task.
  explicit operator bool() const noexcept { return p_ != nullptr; }
  // Lets the task run on without a handle.
  void detach() noexcept { reset(); }

  // For the runtime (spawn): adopts the frame p.
  explicit join_handle(detail::spawned_base* p) noexcept : p_(p) { relink(); }
  // For the runtime (when_all, when_any): the frame, or nullptr.
  detail::spawned_promise<T>* promise() const noexcept { return static_cast<detail::spawned_promise<T>*>(p_); }

 private:
  void relink() noexcept {
    if (p_) p_->handle_ = &p_;
  }
  void reset() noexcept {
    if (!p_) return;
    p_->handle_ = nullptr;
    std::exchange(p_, nullptr)->detach();
  }
  detail::spawned_base* p_ = nullptr;
};

namespace detail {
// Starts t on loop (on its next turn) in a scope of its own, nested in `group`'s when given.
template <typename T>
join_handle<T> spawn_on(event_loop& loop, task<T> t, group_core* group, std::size_t index);
}  // namespace detail

template <typename T>
join_handle<T> event_loop::spawn(task<T> t) {
  return detail::spawn_on(*this, std::move(t), nullptr, 0);
}

}  // namespace c10k

#include "c10k/detail/group_core.hpp"
