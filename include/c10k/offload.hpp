// offload: run a blocking call (a file read, getaddrinfo, a blocking library) on a helper
// thread and resume the caller on its own loop with the result.
#pragma once

#include <coroutine>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "c10k/cancel.hpp"
#include "c10k/event_loop.hpp"

namespace c10k {

// Queues job on the process-wide helper pool (started on first use, one thread per CPU, at
// least two). Thread-safe.
void run_on_helper_pool(std::function<void()> job);

template <typename F>
class [[nodiscard]] offload_awaiter : public waiter_awaitable<offload_awaiter<F>> {
 public:
  using value_type = std::invoke_result_t<F&>;

  explicit offload_awaiter(F fn) : fn_(std::move(fn)) {}

  // Hands fn to the pool; returns true: w (a coroutine's or a fiber's waiter) is resumed on
  // the caller's loop once fn returned. The scope is ignored: fn cannot be stopped midway.
  bool suspend_with(waiter w, cancel_scope*) {
    event_loop* loop = event_loop::current();
    run_on_helper_pool([this, loop, w] {
      try {
        if constexpr (std::is_void_v<value_type>) fn_();
        else value_.emplace(fn_());
      } catch (...) {
        error_ = std::current_exception();
      }
      loop->post([w] { w.resume(); });
    });
    return true;
  }
  // The call's value; rethrows what it threw.
  value_type await_resume() {
    if (error_) std::rethrow_exception(error_);
    if constexpr (!std::is_void_v<value_type>) return std::move(*value_);
  }

 private:
  F fn_;
  std::conditional_t<std::is_void_v<value_type>, bool, std::optional<value_type>> value_{};
  std::exception_ptr error_;
};

// co_await offload(fn) (fiber::await(offload(fn)) on a fiber): fn() on a helper thread; yields
// its value or rethrows its exception.
// The caller's loop keeps serving meanwhile. Not cancellable: fn runs to its end.
template <typename F>
offload_awaiter<std::decay_t<F>> offload(F&& fn) {
  return offload_awaiter<std::decay_t<F>>(std::forward<F>(fn));
}

}  // namespace c10k
