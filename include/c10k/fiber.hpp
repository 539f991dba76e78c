// fiber: a user-level thread with its own stack, sharing a loop with coroutines.
//
// A fiber runs ordinary (non-coroutine) code that may block deep in a call stack: where a
// coroutine would co_await, a fiber calls fiber::await(x) with the same awaitable. That parks
// the fiber: it hands x its own waiter (waiter.hpp: a function that switches back to the fiber's
// stack) and switches to whoever switched to it, normally the loop. When x completes, the loop
// resumes that waiter like any coroutine's, and fiber::await returns x's result. Fibers run on
// Boost.Context, on pooled, guarded stacks (fiber_stack.hpp).
//
//   auto h = spawn_fiber(loop, [&] {
//     std::array<char, 4096> buf;
//     auto n = fiber::await(stream.read(buf));   // parks this fiber, not the thread
//     return n ? *n : 0;
//   });
//   std::size_t n = co_await h.join();            // from a coroutine; fiber::await(h.join()) from a fiber
//
// Like spawn(), the loop owns every fiber it runs: a fiber still parked when the loop is
// destroyed is unwound (its destructors run, its sockets close). Code on a fiber must let that
// unwinding through: a catch (...) that swallows exceptions must rethrow c10k::fiber_unwound.
#pragma once

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "c10k/cancel.hpp"
#include "c10k/detail/coroutine_host.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/fiber_stack.hpp"
#include "c10k/result.hpp"
#include "c10k/task.hpp"
#include "c10k/time.hpp"

namespace c10k {

struct fiber_options {
  // Usable bytes of the stack (rounded up to pages); a guard page comes on top.
  std::size_t stack_size = fiber_stack_pool::default_size;
  // Shown in the stack-overflow message (the fiber's id when empty).
  std::string name;
  // Run the coroutines this fiber starts on its own stack to their end: where one would
  // suspend, the fiber parks instead (coroutine_host.hpp). For a coroutine chain that calls
  // blocking-style code, as the HTTP server's connections on fibers do.
  bool hosts_coroutines = false;
};

// Thrown inside a parked fiber that is being destroyed with its loop, to unwind its stack.
// Not a std::exception on purpose: handlers for std::exception let it through.
struct fiber_unwound {};

template <typename T>
class fiber_handle;

namespace detail {

// The part of a fiber that does not depend on its result type: its context, its stack, the
// switches. Shared by the loop (until the fiber ends) and the join handles.
class fiber_core {
 public:
  fiber_core(event_loop& loop, fiber_options options);
  fiber_core(const fiber_core&) = delete;
  fiber_core& operator=(const fiber_core&) = delete;
  // Unwinds the fiber if it is still parked; logs an exception nobody joined.
  virtual ~fiber_core();

  // The loop this fiber runs on.
  event_loop& loop() const noexcept { return *loop_; }
  // A process-wide number naming this fiber.
  std::uint64_t id() const noexcept { return id_; }
  // True once the fiber's function returned or threw.
  bool done() const noexcept { return done_; }
  // The waiter that continues this fiber: resuming it switches to the fiber's stack.
  waiter as_waiter() noexcept { return {&resume_thunk, this}; }

  // Starts or continues the fiber from the current stack (the loop's, or another fiber's);
  // returns when the fiber parks or ends.
  void switch_in();
  // From inside this fiber: switches back to whoever switched in; returns when resumed.
  // Throws fiber_unwound when the fiber is being destroyed.
  void park();
  // Ends a parked fiber by unwinding its stack; does nothing if it never started or ended.
  void unwind() noexcept;

  // The fiber running on this thread, or nullptr on a thread's own stack.
  static fiber_core* current() noexcept;
  // Appends one line per fiber of `loop` that started and has not ended (id, name, state):
  // the task dump, on the loop's own thread.
  static void describe_all(const event_loop& loop, std::string& out);

  // The fiber's own scope (fiber_handle::cancel), and the scope fiber::await hands to the
  // operations it runs: the own one unless fiber::set_scope chose another.
  cancel_scope own_scope_;
  cancel_scope* scope_ = &own_scope_;
  // This fiber as a host of coroutines (used when options.hosts_coroutines).
  coroutine_host host_{as_waiter(), &park_thunk, this};
  // Resumed (scheduled on the loop) when the fiber ends.
  waiter joiner_;
  waiter on_done_;
  std::exception_ptr error_;
  bool joined_ = false;

 protected:
  // Runs the fiber's function and stores its value; exceptions propagate to the caller.
  virtual void body() = 0;

 private:
  struct context;
  static void resume_thunk(void* self) { static_cast<fiber_core*>(self)->switch_in(); }
  static void park_thunk(void* self) { static_cast<fiber_core*>(self)->park(); }
  void start();

  event_loop* loop_;
  fiber_options options_;
  std::uint64_t id_;
  std::unique_ptr<context> ctx_;
  bool started_ = false;
  bool done_ = false;
  bool unwinding_ = false;
  // The loop's list of live fibers: linked when the fiber starts, unlinked when it ends.
  fiber_core* prev_live_ = nullptr;
  fiber_core* next_live_ = nullptr;
  bool live_ = false;
  void link_live() noexcept;
  void unlink_live() noexcept;
};

template <typename T>
class fiber_result : public fiber_core {
 public:
  using fiber_core::fiber_core;
  // The fiber's value; rethrows its exception. Call once, after done().
  T take() {
    joined_ = true;
    if (error_) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<T>) return std::move(*value_);
  }

 protected:
  std::conditional_t<std::is_void_v<T>, bool, std::optional<T>> value_{};
};

template <typename T, typename F>
class fiber_of final : public fiber_result<T> {
 public:
  fiber_of(event_loop& loop, fiber_options options, F fn) : fiber_result<T>(loop, std::move(options)), fn_(std::move(fn)) {}

 private:
  void body() override {
    if constexpr (std::is_void_v<T>) fn_();
    else this->value_.emplace(fn_());
  }
  F fn_;
};

// Keeps a spawned fiber alive on its loop: a detached task, so that the loop destroys it (and
// with it unwinds the fiber) at shutdown like any other task it owns.
task<> run_fiber(std::shared_ptr<fiber_core> core);

template <typename A>
concept fiber_waitable = requires(A& a, waiter w, cancel_scope* s) {
  { a.suspend_with(w, s) } -> std::same_as<bool>;
  a.await_resume();
};

// A handle whose operator co_await yields an awaiter with suspend_with (join_handle).
template <typename A>
concept parks_fibers_through_co_await = has_member_co_await<std::remove_reference_t<A>> && requires(A&& a) {
  { std::forward<A>(a).operator co_await() } -> fiber_waitable;
};

template <typename A>
struct await_result {
  using type = decltype(std::declval<A&>().await_resume());
};
template <typename A>
  requires has_member_co_await<A>
struct await_result<A> {
  using type = decltype(std::declval<A>().operator co_await().await_resume());
};

// Awaits `a` in a small coroutine started on the fiber's stack, and schedules the fiber when
// the coroutine completes (if it did not complete at once).
template <typename R, typename A>
task<> drive(A&& a, std::optional<std::conditional_t<std::is_void_v<R>, bool, R>>& out, std::exception_ptr& error,
             fiber_core& self, const bool& parked, bool& done) {
  // A task is awaited as an rvalue (operator co_await() &&); any other awaiter in place, as an
  // lvalue, because GCC 12 copies an xvalue awaiter (timeout_awaiter cannot be copied).
  using plain = std::remove_reference_t<A>;
  try {
    if constexpr (has_member_co_await<plain>) {
      if constexpr (std::is_void_v<R>) co_await std::move(a);
      else out.emplace(co_await std::move(a));
    } else {
      if constexpr (std::is_void_v<R>) co_await a;
      else out.emplace(co_await a);
    }
    if constexpr (std::is_void_v<R>) out.emplace(true);
  } catch (...) {
    error = std::current_exception();
  }
  done = true;
  if (parked) self.loop().schedule(self.as_waiter());
}

}  // namespace detail

class fiber {
 public:
  // Starts fn() on a new fiber owned by `loop` (it first runs on a coming turn); returns the
  // handle to join it. An exception escaping fn is kept for join(), or logged when nobody
  // joins. Dropping the handle detaches the fiber.
  template <typename F>
  static auto spawn(event_loop& loop, F&& fn, fiber_options options = {}) {
    using T = std::invoke_result_t<std::decay_t<F>&>;
    auto core = std::make_shared<detail::fiber_of<T, std::decay_t<F>>>(loop, std::move(options), std::forward<F>(fn));
    loop.spawn_detached(detail::run_fiber(core));
    return fiber_handle<T>(std::move(core));
  }

  // True when the caller runs on a fiber.
  static bool in_fiber() noexcept { return detail::fiber_core::current() != nullptr; }
  // The id of the fiber the caller runs on (as fiber_handle::id()), or 0 outside fibers.
  static std::uint64_t current_id() noexcept {
    const detail::fiber_core* f = detail::fiber_core::current();
    return f ? f->id() : 0;
  }

  // Runs the awaitable `a` (an operation, a sleep, a receive, a task, with_timeout, in_scope,
  // a sync wait, offload) from the calling fiber by parking it until `a` completes; returns
  // what co_await a would. Throws std::logic_error when called outside a fiber.
  template <typename A>
  static decltype(auto) await(A&& a) {
    detail::fiber_core& self = current_or_throw("fiber::await");
    using awaitable = std::remove_reference_t<A>;
    if constexpr (detail::fiber_waitable<awaitable> && !detail::has_member_co_await<awaitable>) {
      if (a.suspend_with(self.as_waiter(), self.scope_)) self.park();
      return a.await_resume();
    } else if constexpr (detail::parks_fibers_through_co_await<A>) {
      // A handle whose awaiter parks fibers directly (join_handle): no driver coroutine.
      auto aw = std::forward<A>(a).operator co_await();
      if (aw.suspend_with(self.as_waiter(), self.scope_)) self.park();
      return aw.await_resume();
    } else {
      using R = typename detail::await_result<awaitable>::type;
      static_assert(!std::is_reference_v<R>, "fiber::await: awaitables yielding references are not supported");
      std::optional<std::conditional_t<std::is_void_v<R>, bool, R>> out;
      std::exception_ptr error;
      bool parked = false;
      bool done = false;
      task<> t = detail::drive<R>(std::forward<A>(a), out, error, self, parked, done);
      t.handle().promise().scope_ = self.scope_;
      t.handle().resume();
      while (!done) {
        parked = true;
        self.park();
        // A transfer too deep in the chain unwound the stack and left the coroutine to go on
        // with (hosting fibers only): go on from here, at the base of the stack.
        if (std::coroutine_handle<> h = std::exchange(self.host_.bounced, {})) {
          parked = false;
          h.resume();
        }
      }
      if (error) std::rethrow_exception(error);
      if constexpr (!std::is_void_v<R>) return R(std::move(*out));
    }
  }

  // Lets every other ready waiter and the pending I/O run, then continues. Throws
  // std::logic_error outside a fiber.
  static void yield();

  // Makes `scope` the one the calling fiber's waits run in (nullptr: the fiber's own); returns
  // the previous one, to put back. For code that runs blocking-style work on behalf of a
  // coroutine's scope (http::on_fiber). Throws std::logic_error outside a fiber.
  static cancel_scope* set_scope(cancel_scope* scope) {
    detail::fiber_core& self = current_or_throw("fiber::set_scope");
    return std::exchange(self.scope_, scope ? scope : &self.own_scope_);
  }

  // Parks the calling fiber for `d`; returns success, or the scope's reason when cancelled.
  template <typename Rep, typename Period>
  static result<void> sleep_for(std::chrono::duration<Rep, Period> d) {
    current_or_throw("fiber::sleep_for");
    return await(c10k::sleep_for(d));
  }
  // Parks the calling fiber until `deadline`; returns as sleep_for does.
  static result<void> sleep_until(clock::time_point deadline) {
    current_or_throw("fiber::sleep_until");
    return await(c10k::sleep_until(deadline));
  }

 private:
  static detail::fiber_core& current_or_throw(const char* what);
};

// spawn_fiber(loop, fn): fiber::spawn(loop, fn); returns the join handle.
template <typename F>
auto spawn_fiber(event_loop& loop, F&& fn, fiber_options options = {}) {
  return fiber::spawn(loop, std::forward<F>(fn), std::move(options));
}

// A spawned fiber's result, to join once: `co_await h.join()` from a coroutine,
// `fiber::await(h.join())` from a fiber.
template <typename T>
class fiber_handle {
 public:
  fiber_handle() noexcept = default;
  explicit fiber_handle(std::shared_ptr<detail::fiber_result<T>> core) noexcept : core_(std::move(core)) {}

  // The wait of a join, registered with the joiner's scope: cancelling that scope ends the
  // wait (the fiber runs on; fiber_handle::cancel cancels the fiber itself).
  class [[nodiscard]] join_awaiter : public cancellable, public waiter_awaitable<join_awaiter> {
   public:
    explicit join_awaiter(detail::fiber_result<T>* core) noexcept : core_(core) {}
    join_awaiter(const join_awaiter& o) noexcept : cancellable(), waiter_awaitable<join_awaiter>(), core_(o.core_) {}
    join_awaiter& operator=(const join_awaiter&) = delete;
    // A joiner destroyed while it waits (its coroutine was destroyed) must not be resumed.
    ~join_awaiter() {
      if (waiting_ && !core_->done()) core_->joiner_ = {};
      if (scope_) scope_->leave(this);
    }
    // Returns false when the fiber already ended or the scope is cancelled, else waits.
    bool suspend_with(waiter w, cancel_scope* scope) {
      if (const std::error_code why = already_cancelled(scope)) return (outcome_ = why, false);
      if (core_->done()) return false;
      core_->joiner_ = w;
      waiting_ = true;
      scope_ = scope;
      if (scope) scope->enter(this);
      return true;
    }
    // Ends the wait with `reason` unless the fiber ended first.
    void cancel(std::error_code reason) noexcept override {
      if (!waiting_ || core_->done() || !core_->joiner_) return;
      waiter w = std::exchange(core_->joiner_, {});
      waiting_ = false;
      outcome_ = reason;
      core_->loop().schedule(w);
    }
    wait_info describe() const noexcept override { return {"fiber join"}; }
    // The fiber's value; rethrows its exception; throws std::system_error with the scope's
    // reason when the scope ended the wait first.
    T await_resume() {
      if (scope_) scope_->leave(this);
      scope_ = nullptr;
      waiting_ = false;
      if (outcome_) throw std::system_error(outcome_);
      return core_->take();
    }

   private:
    detail::fiber_result<T>* core_;
    cancel_scope* scope_ = nullptr;
    std::error_code outcome_;
    bool waiting_ = false;
  };

  // The awaitable that waits for the fiber to end and yields its value (or rethrows).
  join_awaiter join() const {
    if (!core_) throw std::logic_error("c10k: join on an empty fiber_handle");
    return join_awaiter(core_.get());
  }
  // Cancels the fiber's own scope with `reason`: its waits end with it.
  void cancel(std::error_code reason = std::make_error_code(std::errc::operation_canceled)) noexcept {
    if (core_) core_->own_scope_.cancel(reason);
  }
  // True once the fiber ended.
  bool done() const noexcept { return core_ && core_->done(); }
  // The fiber's id (0 for an empty handle).
  std::uint64_t id() const noexcept { return core_ ? core_->id() : 0; }
  explicit operator bool() const noexcept { return static_cast<bool>(core_); }

 private:
  std::shared_ptr<detail::fiber_result<T>> core_;
};

}  // namespace c10k
