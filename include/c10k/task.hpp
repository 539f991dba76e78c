// task<T>: a lazy coroutine that produces a T (or throws) and resumes whoever awaits it.
//
// Lazy: nothing runs until the task is co_awaited (or spawned on a loop). Completion hands
// control straight to the awaiting coroutine by symmetric transfer, so a chain of a million
// synchronously completing awaits runs in constant stack. Frames come from the per-thread
// frame_allocator. The task object owns its frame: destroying an unfinished task destroys the
// frame, and with it every object (socket, buffer) the coroutine holds.
#pragma once

#include <coroutine>
#include <cstddef>
#include <exception>
#include <utility>
#include <variant>

#include "c10k/detail/frame_allocator.hpp"

namespace c10k {

class cancel_scope;

template <typename T = void>
class task;

namespace detail {

// Symmetric transfer runs in constant stack only where the compiler turns it into a tail call
// (GCC does from -O2, and not with ASan+UBSan instrumentation). Elsewhere a chain of
// synchronous completions nests one native frame per transfer, so each transfer first asks
// whether the stack has grown far past where the loop's turn began, and if so bounces through
// the loop's ready queue instead, unwinding to the loop. In optimised builds this never fires.
//
// Returns true when this thread's stack is deeper than the bound since its loop started running.
bool stack_too_deep() noexcept;
// Where stack_too_deep measures from, and how far the stack may grow from there.
struct stack_limit {
  const char* base = nullptr;
  std::ptrdiff_t bound = 0;  // 0: the default for a thread's stack
};
// Makes `limit` the one stack_too_deep applies (a fiber's while it runs); returns the previous
// one, to put back. Does nothing outside a running loop.
stack_limit exchange_stack_limit(stack_limit limit) noexcept;
// Queues h to be resumed by the current loop on its next pass (on a hosting fiber: by that
// fiber, from its base).
void resume_later(std::coroutine_handle<> h);

// Where a transfer to h should go: h itself, or (on a deep stack) the loop's queue.
inline std::coroutine_handle<> transfer_to(std::coroutine_handle<> h) {
  if (!stack_too_deep()) return h;
  resume_later(h);
  return std::noop_coroutine();
}

struct promise_base {
  std::coroutine_handle<> continuation_ = std::noop_coroutine();
  // The cancel_scope the awaiting coroutine runs in, handed down the chain of awaits so that
  // cancelling a scope reaches whichever operation the chain is waiting on (cancel.hpp).
  cancel_scope* scope_ = nullptr;

  static void* operator new(std::size_t size) { return frame_allocator::allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { frame_allocator::deallocate(p, size); }

  std::suspend_always initial_suspend() const noexcept { return {}; }

  struct final_awaiter {
    bool await_ready() const noexcept { return false; }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> h) noexcept {
      return transfer_to(h.promise().continuation_);
    }
    void await_resume() const noexcept {}
  };
  final_awaiter final_suspend() const noexcept { return {}; }
};

template <typename T>
struct promise final : promise_base {
  std::variant<std::monostate, T, std::exception_ptr> outcome_;

  task<T> get_return_object() noexcept;
  template <typename U>
  void return_value(U&& v) { outcome_.template emplace<1>(std::forward<U>(v)); }
  void unhandled_exception() noexcept { outcome_.template emplace<2>(std::current_exception()); }

  T take() {
    if (outcome_.index() == 2) std::rethrow_exception(std::get<2>(outcome_));
    return std::move(std::get<1>(outcome_));
  }
};

template <>
struct promise<void> final : promise_base {
  std::exception_ptr error_;

  task<void> get_return_object() noexcept;
  void return_void() noexcept {}
  void unhandled_exception() noexcept { error_ = std::current_exception(); }

  void take() {
    if (error_) std::rethrow_exception(error_);
  }
};

}  // namespace detail

template <typename T>
class [[nodiscard]] task {
 public:
  using promise_type = detail::promise<T>;
  using handle_type = std::coroutine_handle<promise_type>;

  task() noexcept = default;
  explicit task(handle_type h) noexcept : h_(h) {}
  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      reset();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  ~task() { reset(); }

  // True when this task holds a coroutine frame.
  bool valid() const noexcept { return static_cast<bool>(h_); }
  // True when the coroutine ran to completion (returned or threw).
  bool done() const noexcept { return h_ && h_.done(); }

  class awaiter {
   public:
    explicit awaiter(handle_type h) noexcept : h_(h) {}
    bool await_ready() const noexcept { return h_.done(); }
    template <typename P>
    std::coroutine_handle<> await_suspend(std::coroutine_handle<P> caller) noexcept {
      if constexpr (requires { caller.promise().scope_; }) return suspend_in(caller, caller.promise().scope_);
      else return suspend_in(caller, nullptr);
    }
    // Starts the task inside `scope` (see cancel.hpp), resuming `caller` when it completes.
    std::coroutine_handle<> suspend_in(std::coroutine_handle<> caller, cancel_scope* scope) noexcept {
      h_.promise().continuation_ = caller;
      h_.promise().scope_ = scope;
      return detail::transfer_to(h_);
    }
    T await_resume() { return h_.promise().take(); }

   private:
    handle_type h_;
  };

  // Awaiting a task starts it and yields its value, or rethrows its exception.
  awaiter operator co_await() && noexcept { return awaiter{h_}; }

  // The frame, for runtimes that drive a task themselves (spawn, block_on). Ownership stays.
  handle_type handle() const noexcept { return h_; }
  // Gives up ownership of the frame.
  handle_type release() noexcept { return std::exchange(h_, {}); }

 private:
  void reset() noexcept {
    if (h_) h_.destroy();
    h_ = {};
  }
  handle_type h_;
};

namespace detail {
template <typename T>
task<T> promise<T>::get_return_object() noexcept {
  return task<T>{std::coroutine_handle<promise<T>>::from_promise(*this)};
}
inline task<void> promise<void>::get_return_object() noexcept {
  return task<void>{std::coroutine_handle<promise<void>>::from_promise(*this)};
}
}  // namespace detail

}  // namespace c10k
