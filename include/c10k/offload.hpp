// offload: run a blocking call (a file read, getaddrinfo, a blocking library) on a helper
// thread and resume the caller on its own loop with the result.
//
// The caller and the helper thread share one refcounted job: the function, its value or
// exception, and the caller's waiter and loop under a mutex. The helper never touches the
// caller's frame: it stores the value in the job, then, if the caller still waits, posts the
// resumption to the caller's loop. A caller that stops waiting (its scope was cancelled, its
// task destroyed, its loop shut down) revokes the job first, under the same mutex, so a helper
// that finishes later posts nothing and the value dies with the job's last reference: on the
// helper thread, or on the loop when the resumption was already posted.
#pragma once

#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include "c10k/cancel.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/result.hpp"

namespace c10k {

// Queues job on the process-wide helper pool (started on first use, one thread per CPU, at
// least two). Thread-safe.
void run_on_helper_pool(std::function<void()> job);

// What the helper pool is doing now (all zero before its first use).
struct helper_pool_stats {
  std::size_t threads = 0;  // helper threads
  std::size_t busy = 0;     // of them, running a job now
  std::size_t queued = 0;   // jobs waiting for a thread
};
// A snapshot of the helper pool's gauges; thread-safe, never starts the pool.
helper_pool_stats helper_pool_snapshot() noexcept;

namespace detail {

// The part of an offload shared by the caller's loop and the helper thread.
class offload_job {
 public:
  offload_job() = default;
  offload_job(const offload_job&) = delete;
  offload_job& operator=(const offload_job&) = delete;
  virtual ~offload_job() = default;

  // Hands self to the pool; w is resumed on loop once run() returned, unless revoked before.
  static void start(std::shared_ptr<offload_job> self, waiter w, event_loop& loop);
  // Stops waiting (on the caller's loop); returns true when w had not been resumed and now
  // never will be, false when the resumption already ran or the job was revoked before.
  bool revoke() noexcept;

 protected:
  // The call itself, on the helper thread; keeps its value or exception.
  virtual void run() noexcept = 0;

 private:
  // On the helper thread after run(): posts the resumption if the caller still waits.
  void deliver(const std::shared_ptr<offload_job>& self);

  std::mutex mutex_;
  event_loop* loop_ = nullptr;  // nullptr once revoked or resumed
  waiter who_;
};

}  // namespace detail

template <typename F>
class [[nodiscard]] offload_awaiter final : public cancellable, public waiter_awaitable<offload_awaiter<F>> {
 public:
  using value_type = std::invoke_result_t<F&>;

  explicit offload_awaiter(F fn) : job_(std::make_shared<job>(std::move(fn))) {}
  offload_awaiter(offload_awaiter&&) noexcept = default;  // only before it starts
  offload_awaiter& operator=(offload_awaiter&&) = delete;
  ~offload_awaiter() {
    if (scope_) scope_->leave(this);
    if (started_) job_->revoke();
  }

  // Hands fn to the pool and returns true: w (a coroutine's or a fiber's waiter) is resumed on
  // the caller's loop once fn returned or the scope was cancelled. Returns false, without
  // starting fn, when the scope is already cancelled.
  bool suspend_with(waiter w, cancel_scope* scope) {
    if (auto ec = already_cancelled(scope)) return (outcome_ = ec, false);
    who_ = w;
    loop_ = event_loop::current();
    started_ = true;
    scope_ = scope;
    if (scope) scope->enter(this);
    detail::offload_job::start(job_, w, *loop_);
    return true;
  }
  // fn's value; the scope's reason when it was cancelled first. Rethrows what fn threw.
  result<value_type> await_resume() {
    if (scope_) scope_->leave(this);
    scope_ = nullptr;
    if (outcome_) return outcome_;
    // The helper stored these before posting the resumption (the job's mutex orders them).
    if (job_->error_) std::rethrow_exception(job_->error_);
    if constexpr (std::is_void_v<value_type>) return {};
    else return std::move(*job_->value_);
  }

  // Resumes the caller at once with `reason`; fn goes on on the helper thread and its value is
  // dropped there. Nothing when the value was delivered first.
  void cancel(std::error_code reason) noexcept override {
    if (!started_ || !job_->revoke()) return;
    outcome_ = reason;
    loop_->schedule(who_);
  }
  wait_info describe() const noexcept override { return {"offload"}; }

 private:
  struct job final : detail::offload_job {
    explicit job(F fn) : fn_(std::move(fn)) {}
    void run() noexcept override {
      try {
        if constexpr (std::is_void_v<value_type>) fn_();
        else value_.emplace(fn_());
      } catch (...) {
        error_ = std::current_exception();
      }
    }
    F fn_;
    std::optional<std::conditional_t<std::is_void_v<value_type>, bool, value_type>> value_;
    std::exception_ptr error_;
  };

  std::shared_ptr<job> job_;
  waiter who_;
  event_loop* loop_ = nullptr;
  cancel_scope* scope_ = nullptr;
  std::error_code outcome_;
  bool started_ = false;
};

namespace detail {
// fn(args...), with fn and the arguments held by value.
template <typename F, typename... Args>
struct bound_call {
  F fn_;
  std::tuple<Args...> args_;
  decltype(auto) operator()() { return std::apply(fn_, args_); }
};
}  // namespace detail

// co_await offload(fn, args...) (fiber::await(...) on a fiber): fn(args...) on a helper thread;
// yields result<its value>, or rethrows its exception. The caller's loop keeps serving meanwhile.
// Cancelling the caller's scope ends the wait at once with the scope's reason; fn itself cannot
// be stopped midway, runs to its end on the helper thread, and its value is dropped there. So
// fn must own what it uses: it may outlive the caller's frame. offload(f, a, b) copies f, a and
// b into the job. Prefer it to a lambda with captures written inside the co_await expression:
// g++ 12 destroys such a lambda's captures twice (or a braced temporary's members).
template <typename F, typename... Args>
auto offload(F&& fn, Args&&... args) {
  if constexpr (sizeof...(Args) == 0) {
    return offload_awaiter<std::decay_t<F>>(std::forward<F>(fn));
  } else {
    using call = detail::bound_call<std::decay_t<F>, std::decay_t<Args>...>;
    return offload_awaiter<call>(call{std::forward<F>(fn), {std::forward<Args>(args)...}});
  }
}

}  // namespace c10k
