// offload: run a blocking call (a file read, getaddrinfo, a blocking library) on a helper
// thread and resume the caller on its own loop with the result.
#pragma once

#include <coroutine>
#include <exception>
#include <functional>
#include <optional>
#include <type_traits>
#include <utility>

#include "c10k/event_loop.hpp"

namespace c10k {

// Queues job on the process-wide helper pool (started on first use, one thread per CPU, at
// least two). Thread-safe.
void run_on_helper_pool(std::function<void()> job);

template <typename F>
class [[nodiscard]] offload_awaiter {
 public:
  using value_type = std::invoke_result_t<F&>;

  explicit offload_awaiter(F fn) : fn_(std::move(fn)) {}

  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<> h) {
    event_loop* loop = event_loop::current();
    run_on_helper_pool([this, loop, h] {
      try {
        if constexpr (std::is_void_v<value_type>) fn_();
        else value_.emplace(fn_());
      } catch (...) {
        error_ = std::current_exception();
      }
      loop->post([h] { h.resume(); });
    });
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

// co_await offload(fn): fn() on a helper thread; yields its value or rethrows its exception.
// The caller's loop keeps serving meanwhile. Not cancellable: fn runs to its end.
template <typename F>
offload_awaiter<std::decay_t<F>> offload(F&& fn) {
  return offload_awaiter<std::decay_t<F>>(std::forward<F>(fn));
}

}  // namespace c10k
