#include "c10k/event_loop.hpp"

#include <csignal>
#include <stdexcept>

#include "c10k/detail/coroutine_host.hpp"
#include "c10k/fiber_stack.hpp"
#include "c10k/log.hpp"

namespace c10k {

namespace {
thread_local event_loop* current_loop = nullptr;
// The stack position where this thread's running loop turns; nullptr outside run().
thread_local const char* stack_base = nullptr;
constexpr std::ptrdiff_t max_stack_growth = 256 * 1024;
// How far a chain of transfers may grow the stack from stack_base: max_stack_growth on a
// thread's stack, half the stack on a fiber's.
thread_local std::ptrdiff_t stack_bound = max_stack_growth;

// A peer that closes early must cost an EPIPE, not the process: what every server does.
void ignore_sigpipe_once() {
  static const bool done = [] {
    std::signal(SIGPIPE, SIG_IGN);
    return true;
  }();
  (void)done;
}
}  // namespace

namespace detail {

void log_lost_exception(std::exception_ptr e) noexcept {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    log(log_level::error, "detached task failed: {}", ex.what());
  } catch (...) {
    log(log_level::error, "detached task failed with a non-standard exception");
  }
}

bool stack_too_deep() noexcept {
  if (!stack_base) return false;
  const char* here = static_cast<const char*>(__builtin_frame_address(0));
  const std::ptrdiff_t depth = stack_base - here;
  // A frame far above the base is on another stack (a fiber's that did not set its own base):
  // no bound applies there.
  return depth > stack_bound && depth < 64 * max_stack_growth;
}

stack_limit exchange_stack_limit(stack_limit limit) noexcept {
  // Outside a loop's run() there is no bound to keep.
  if (!stack_base) return {};
  const stack_limit old{stack_base, stack_bound};
  stack_base = limit.base;
  stack_bound = limit.bound ? limit.bound : max_stack_growth;
  return old;
}

void resume_later(std::coroutine_handle<> h) {
  // On a fiber that hosts coroutines the chain must go on on that fiber: the fiber takes h and
  // resumes it once the stack has unwound to its base (fiber::await).
  if (coroutine_host* host = running_host) {
    host->bounced = h;
    current_loop->schedule(host->resume);
    return;
  }
  current_loop->schedule(waiter::of(h));
}

// The frame of a detached task: linked into its loop's list so the loop can destroy what is
// left of it at shutdown, and destroyed by itself when it finishes.
struct detached_promise : loop_owned {
  detached_promise(event_loop& loop, task<>&)
      : loop_owned(loop, std::coroutine_handle<detached_promise>::from_promise(*this).address()) {}

  static void* operator new(std::size_t size) { return frame_allocator::allocate(size); }
  static void operator delete(void* p, std::size_t size) noexcept { frame_allocator::deallocate(p, size); }

  std::coroutine_handle<detached_promise> get_return_object() noexcept {
    return std::coroutine_handle<detached_promise>::from_promise(*this);
  }
  std::suspend_always initial_suspend() const noexcept { return {}; }
  std::suspend_never final_suspend() const noexcept { return {}; }
  void return_void() noexcept {}
  void unhandled_exception() noexcept { log_lost_exception(std::current_exception()); }
};

}  // namespace detail
}  // namespace c10k

template <typename... Args>
struct std::coroutine_traits<std::coroutine_handle<c10k::detail::detached_promise>, Args...> {
  using promise_type = c10k::detail::detached_promise;
};

namespace c10k {
namespace {
std::coroutine_handle<detail::detached_promise> run_detached(event_loop&, task<> t) { co_await std::move(t); }
}  // namespace

event_loop::event_loop(std::string_view backend_name) {
  ignore_sigpipe_once();
  auto b = make_backend(backend_name, ready_);
  if (!b) throw std::system_error(b.error(), "c10k: cannot set up the " + std::string(backend_name) + " backend");
  backend_ = std::move(*b);
  if (!current_loop) current_loop = this;
}

event_loop::~event_loop() {
  while (tasks_) std::coroutine_handle<>::from_address(tasks_->frame_).destroy();
  ready_.clear();
  after_poll_.clear();
  backend_.reset();
  if (current_loop == this) current_loop = nullptr;
}

event_loop* event_loop::current() noexcept { return current_loop; }

void event_loop::spawn_detached(task<> t) { schedule(waiter::of(run_detached(*this, std::move(t)))); }

void event_loop::spawn_now(task<> t) { waiter::of(run_detached(*this, std::move(t))).resume(); }

void event_loop::post(std::function<void()> fn) {
  {
    std::lock_guard lock(posted_mutex_);
    posted_.push_back(std::move(fn));
  }
  // Wake only on the first post since the loop last looked: later ones ride on that wake-up.
  if (!has_posted_.exchange(true, std::memory_order_acq_rel)) backend_->wake();
}

void event_loop::stop() noexcept {
  stop_requested_.store(true, std::memory_order_release);
  backend_->wake();
}

void event_loop::run() {
  event_loop* const outer = std::exchange(current_loop, this);
  const char* const outer_base = std::exchange(stack_base, static_cast<const char*>(__builtin_frame_address(0)));
  const fiber_stack_pool& stacks = fiber_stack_pool::local();
  while (!stop_requested_.load(std::memory_order_acquire)) {
    now_ = clock::now();
    publish_activity(stacks);
    while (timer_entry* t = timers_.pop_due(now_)) t->fire(t);
    activity_.ready_length = ready_.size();
    ready_.run_once();
    if (has_posted_.load(std::memory_order_acquire)) run_posted();
    if (stop_requested_.load(std::memory_order_acquire)) break;
    activity_.busy_since_ns = 0;  // waiting in the poll is not a stall
    backend_->poll(poll_timeout());
    for (waiter w : after_poll_) ready_.push(w);
    after_poll_.clear();
  }
  stop_requested_.store(false, std::memory_order_relaxed);
  activity_.busy_since_ns = 0;
  current_loop = outer;
  stack_base = outer_base;
}

// A handful of relaxed stores per turn (not per operation): what metrics and the watchdog read.
void event_loop::publish_activity(const fiber_stack_pool& stacks) noexcept {
  ++activity_.turns;
  const auto since = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now_.time_since_epoch()).count());
  activity_.busy_since_ns = since ? since : 1;
  activity_.timers = timers_.size();
  activity_.fibers_alive = stacks.in_use();
  activity_.fiber_stack_bytes = stacks.bytes_in_use();
}

void event_loop::run_posted() {
  {
    std::lock_guard lock(posted_mutex_);
    running_posted_.swap(posted_);
    has_posted_.store(false, std::memory_order_release);
  }
  for (auto& fn : running_posted_) fn();
  running_posted_.clear();
}

std::chrono::nanoseconds event_loop::poll_timeout() const noexcept {
  if (!ready_.empty() || !after_poll_.empty() || has_posted_.load(std::memory_order_acquire)) return {};
  if (timer_entry* t = timers_.top()) {
    auto left = t->deadline - clock::now();
    return left.count() > 0 ? std::chrono::duration_cast<std::chrono::nanoseconds>(left) : std::chrono::nanoseconds{};
  }
  return std::chrono::nanoseconds{-1};
}

task<> event_loop::complete_into_void(task<> t, bool& done, std::exception_ptr& error, event_loop& loop) {
  try {
    co_await std::move(t);
    done = true;
  } catch (...) {
    error = std::current_exception();
  }
  loop.stop();
}

}  // namespace c10k
