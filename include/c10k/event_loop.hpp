// event_loop: one thread's scheduler: a ready queue, timers, and a backend that waits for I/O.
//
// Each turn runs in three phases, as the design says: fire the timers that are due, resume
// every waiter that became ready, then poll the backend for I/O (without waiting when there is
// work queued, otherwise until the next timer). Other threads hand work in with post(), which
// wakes a sleeping poll through the backend.
#pragma once

#include <atomic>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include "c10k/backend.hpp"
#include "c10k/detail/ready_queue.hpp"
#include "c10k/detail/timer_heap.hpp"
#include "c10k/task.hpp"

namespace c10k {

class event_loop;
class fiber_stack_pool;

template <typename T>
class join_handle;

namespace detail {
struct detached_promise;
class fiber_core;

// A coroutine frame owned by a loop (a detached or spawned task): linked into the loop's list
// so that the loop destroys what is left of it at shutdown. Constructing links, destroying
// unlinks (defined below event_loop).
struct loop_owned {
  event_loop& loop_;
  loop_owned* prev_ = nullptr;
  loop_owned* next_ = nullptr;
  void* frame_;  // the coroutine frame's address, for the loop to destroy it

  loop_owned(event_loop& loop, void* frame) noexcept;
  loop_owned(const loop_owned&) = delete;
  loop_owned& operator=(const loop_owned&) = delete;
  ~loop_owned();
};
}  // namespace detail

// What a loop publishes once per turn, for metrics and the stall watchdog: written by the loop
// alone (relaxed stores, no read-modify-write shared with anyone), readable from any thread.
struct loop_activity {
  counter turns;              // turns begun
  counter ready_length;       // waiters queued when the turn's ready phase began
  counter timers;             // entries in the timer heap when the turn began
  counter fibers_alive;       // fiber stacks held on this loop's thread when the turn began
  counter fiber_stack_bytes;  // their usable bytes
  // When the running turn left the poll (clock's nanoseconds since its epoch); 0 while the
  // loop waits in the poll or is not running: a value that stays old is a stalled loop.
  counter busy_since_ns;
};

class event_loop {
 public:
  // Makes a loop on the backend called `backend_name` (see make_backend); throws
  // std::system_error when that backend cannot be set up. The first loop made on a thread
  // becomes that thread's current() one.
  explicit event_loop(std::string_view backend_name = "auto");
  event_loop(const event_loop&) = delete;
  event_loop& operator=(const event_loop&) = delete;
  // Destroys every task still owned by the loop (their sockets close), then the backend.
  ~event_loop();

  // The loop running on (or made first on) this thread, or nullptr.
  static event_loop* current() noexcept;

  // Runs turns until stop() is called; returns at once if stop() was already called.
  void run();
  // Asks run() to return after the current turn. Thread-safe.
  void stop() noexcept;
  // Runs t on this loop until it completes and returns its value (or rethrows).
  template <typename T>
  T block_on(task<T> t);
  // Runs any awaitable (a sleep, an operation) on this loop until it completes; returns its result.
  template <typename A>
    requires requires(A& a) { a.await_resume(); }
  auto block_on(A a) {
    using R = decltype(a.await_resume());
    return block_on([](A a) -> task<R> { co_return co_await a; }(std::move(a)));
  }

  // Runs t as a task owned by this loop, starting on the next turn, in a cancel_scope of its
  // own; returns its join handle (join_handle.hpp: `co_await h` for the value or the
  // exception, h.cancel() to cancel it). Dropping the handle detaches the task; an exception
  // nobody takes is logged. Tasks still alive when the loop is destroyed are destroyed with it.
  template <typename T>
  join_handle<T> spawn(task<T> t);
  // Runs t as a detached task owned by this loop, starting on the next turn: spawn without a
  // handle or a scope of its own, the cheapest way to start a task.
  void spawn_detached(task<> t);
  // Runs t as a detached task owned by this loop, starting at once: for a waiter that the loop
  // resumed (never a backend in its event walk) and that starts new work, sparing it a turn.
  void spawn_now(task<> t);
  // Runs fn on this loop's thread during a coming turn. Thread-safe.
  void post(std::function<void()> fn);

  // Queues w to be resumed on this turn or the next.
  void schedule(waiter w) { ready_.push(w); }
  // Queues w to be resumed after the next backend poll, letting I/O in first.
  void schedule_after_poll(waiter w) { after_poll_.push_back(w); }

  void add_timer(timer_entry& t) { timers_.push(t); }
  void remove_timer(timer_entry& t) noexcept { timers_.remove(t); }
  // The time at the start of this turn: cheap, and the same for everything in the turn.
  clock::time_point now() const noexcept { return now_; }

  backend& io() noexcept { return *backend_; }
  // How many detached tasks are alive.
  std::size_t task_count() const noexcept { return task_count_; }
  // What the loop published at its last turn; readable from any thread.
  const loop_activity& activity() const noexcept { return activity_; }

 private:
  friend struct detail::loop_owned;
  friend class detail::fiber_core;

  void run_posted();
  void publish_activity(const fiber_stack_pool& stacks) noexcept;
  std::chrono::nanoseconds poll_timeout() const noexcept;

  template <typename T>
  static task<> complete_into(task<T> t, std::optional<T>& value, std::exception_ptr& error, event_loop& loop);
  static task<> complete_into_void(task<> t, bool& done, std::exception_ptr& error, event_loop& loop);

  ready_queue ready_;
  std::vector<waiter> after_poll_;
  timer_heap timers_;
  clock::time_point now_ = clock::now();
  std::unique_ptr<backend> backend_;
  std::atomic<bool> stop_requested_{false};

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::vector<std::function<void()>> running_posted_;
  std::atomic<bool> has_posted_{false};

  loop_activity activity_;
  detail::loop_owned* tasks_ = nullptr;  // intrusive list of detached and spawned tasks
  std::size_t task_count_ = 0;
  detail::fiber_core* fibers_ = nullptr;  // fibers started and not ended (for the task dump)
  event_loop* previous_current_ = nullptr;
};

namespace detail {
inline loop_owned::loop_owned(event_loop& loop, void* frame) noexcept : loop_(loop), frame_(frame) {
  next_ = loop.tasks_;
  if (next_) next_->prev_ = this;
  loop.tasks_ = this;
  ++loop.task_count_;
}
inline loop_owned::~loop_owned() {
  if (prev_) prev_->next_ = next_;
  else loop_.tasks_ = next_;
  if (next_) next_->prev_ = prev_;
  --loop_.task_count_;
}
}  // namespace detail

template <typename T>
task<> event_loop::complete_into(task<T> t, std::optional<T>& value, std::exception_ptr& error, event_loop& loop) {
  try {
    value.emplace(co_await std::move(t));
  } catch (...) {
    error = std::current_exception();
  }
  loop.stop();
}

template <typename T>
T event_loop::block_on(task<T> t) {
  std::exception_ptr error;
  if constexpr (std::is_void_v<T>) {
    bool done = false;
    spawn_detached(complete_into_void(std::move(t), done, error, *this));
    run();
    if (error) std::rethrow_exception(error);
    if (!done) throw std::logic_error("block_on: the loop stopped before the task completed");
  } else {
    std::optional<T> value;
    spawn_detached(complete_into(std::move(t), value, error, *this));
    run();
    if (error) std::rethrow_exception(error);
    if (!value) throw std::logic_error("block_on: the loop stopped before the task completed");
    return std::move(*value);
  }
}

}  // namespace c10k

// spawn's definition and join_handle (they need the loop complete).
#include "c10k/join_handle.hpp"
