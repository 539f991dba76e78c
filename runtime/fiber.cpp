#include "c10k/fiber.hpp"

#include <atomic>
#include <boost/context/fiber.hpp>
#include <boost/context/stack_context.hpp>
#include <cstring>

#include "c10k/log.hpp"

#if defined(__SANITIZE_ADDRESS__)
#define C10K_ASAN_FIBERS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define C10K_ASAN_FIBERS 1
#endif
#endif
#if defined(C10K_ASAN_FIBERS)
#include <sanitizer/common_interface_defs.h>
#endif

namespace c10k {
namespace detail {
namespace {

thread_local fiber_core* running_fiber = nullptr;
std::atomic<std::uint64_t> next_fiber_id{1};

// AddressSanitizer tracks one stack per thread; every switch tells it which stack comes next
// (start) and, once there, that the switch happened (finish), so that it neither reports the
// other stack's frames as overflows nor loses track of fake stacks (use-after-return).
inline void start_switch(void** fake_stack_save, const void* bottom, std::size_t size) noexcept {
#if defined(C10K_ASAN_FIBERS)
  __sanitizer_start_switch_fiber(fake_stack_save, bottom, size);
#else
  (void)fake_stack_save, (void)bottom, (void)size;
#endif
}
inline void finish_switch(void* fake_stack_save, const void** bottom_old, std::size_t* size_old) noexcept {
#if defined(C10K_ASAN_FIBERS)
  __sanitizer_finish_switch_fiber(fake_stack_save, bottom_old, size_old);
#else
  (void)fake_stack_save, (void)bottom_old, (void)size_old;
#endif
}

}  // namespace

struct fiber_core::context {
  boost::context::fiber self_;    // the fiber while it is parked (empty while it runs, and after)
  boost::context::fiber caller_;  // where park() switches to (valid while the fiber runs)
  fiber_stack stack_;
  stack_guard_info guard_;
  void* fake_stack_ = nullptr;  // ASan's fake stack of the fiber while it is parked
  const void* caller_bottom_ = nullptr;
  std::size_t caller_size_ = 0;
};

namespace {

// Hands Boost.Context stacks from the thread's pool, and records their bounds for the overflow
// handler and for the ASan annotations.
struct pool_allocator {
  fiber_stack_pool* pool_;
  std::size_t size_;
  fiber_stack* record_;

  boost::context::stack_context allocate() {
    fiber_stack s = pool_->allocate(size_);
    *record_ = s;
    boost::context::stack_context sctx;
    sctx.size = s.size;
    sctx.sp = s.top();
    return sctx;
  }
  void deallocate(boost::context::stack_context& sctx) noexcept {
    const std::size_t guard = page_size();
    char* top = static_cast<char*>(sctx.sp);
    pool_->deallocate(fiber_stack{top - sctx.size - guard, guard, sctx.size});
  }
};

}  // namespace

fiber_core::fiber_core(event_loop& loop, fiber_options options)
    : loop_(&loop), options_(std::move(options)), id_(next_fiber_id.fetch_add(1, std::memory_order_relaxed)),
      ctx_(std::make_unique<context>()) {}

fiber_core::~fiber_core() {
  unwind();
  unlink_live();
  if (error_ && !joined_) {
    try {
      std::rethrow_exception(error_);
    } catch (const std::exception& e) {
      log(log_level::error, "fiber {} failed: {}", id_, e.what());
    } catch (...) {
      log(log_level::error, "fiber {} failed with a non-standard exception", id_);
    }
  }
}

fiber_core* fiber_core::current() noexcept { return running_fiber; }

void fiber_core::link_live() noexcept {
  next_live_ = loop_->fibers_;
  if (next_live_) next_live_->prev_live_ = this;
  loop_->fibers_ = this;
  live_ = true;
}

void fiber_core::unlink_live() noexcept {
  if (!live_) return;
  if (prev_live_) prev_live_->next_live_ = next_live_;
  else loop_->fibers_ = next_live_;
  if (next_live_) next_live_->prev_live_ = prev_live_;
  live_ = false;
}

void fiber_core::describe_all(const event_loop& loop, std::string& out) {
  for (const fiber_core* f = loop.fibers_; f; f = f->next_live_) {
    out += "  fiber ";
    out += std::to_string(f->id_);
    if (!f->options_.name.empty()) {
      out += " \"";
      out += f->options_.name;
      out += '"';
    }
    out += f == running_fiber ? ": running\n" : ": parked\n";
  }
}

void fiber_core::start() {
  started_ = true;
  link_live();
  prepare_overflow_handler();
  context& c = *ctx_;
  c.self_ = boost::context::fiber(
      std::allocator_arg, pool_allocator{&fiber_stack_pool::local(), options_.stack_size, &c.stack_},
      [this](boost::context::fiber&& caller) {
        context& c = *ctx_;
        finish_switch(nullptr, &c.caller_bottom_, &c.caller_size_);
        c.caller_ = std::move(caller);
        try {
          if (!unwinding_) body();
        } catch (const fiber_unwound&) {
          // destroyed with its loop: nobody waits for an outcome
        } catch (...) {
          error_ = std::current_exception();
        }
        done_ = true;
        // nullptr: this stack ends here, ASan may forget its fake frames.
        start_switch(nullptr, c.caller_bottom_, c.caller_size_);
        return std::move(c.caller_);
      });
  c.guard_.guard_lo = c.stack_.base;
  c.guard_.guard_hi = c.stack_.bottom();
  c.guard_.size = c.stack_.size;
  c.guard_.id = id_;
  std::strncpy(c.guard_.name, options_.name.c_str(), sizeof c.guard_.name - 1);
}

void fiber_core::switch_in() {
  if (done_) return;
  if (!started_) start();
  context& c = *ctx_;
  fiber_core* const outer = std::exchange(running_fiber, this);
  coroutine_host* const outer_host = std::exchange(running_host, options_.hosts_coroutines ? &host_ : nullptr);
  // Transfers on this stack bounce (through the fiber, when it hosts coroutines) once they
  // have used half of it: Debug and sanitizer builds nest a native frame per transfer.
  const stack_limit outer_limit =
      exchange_stack_limit({static_cast<const char*>(c.stack_.top()), static_cast<std::ptrdiff_t>(c.stack_.size / 2)});
  const stack_guard_info* const outer_stack = set_running_stack(&c.guard_);
  void* fake_stack = nullptr;
  start_switch(&fake_stack, c.stack_.bottom(), c.stack_.size);
  c.self_ = std::move(c.self_).resume();
  finish_switch(fake_stack, nullptr, nullptr);
  set_running_stack(outer_stack);
  exchange_stack_limit(outer_limit);
  running_host = outer_host;
  running_fiber = outer;
  if (done_) {
    unlink_live();
    // Never resume inline: the joiner runs on a coming turn, from the loop's own stack.
    if (joiner_) loop_->schedule(std::exchange(joiner_, {}));
    if (on_done_) loop_->schedule(std::exchange(on_done_, {}));
  }
}

void fiber_core::park() {
  context& c = *ctx_;
  start_switch(&c.fake_stack_, c.caller_bottom_, c.caller_size_);
  c.caller_ = std::move(c.caller_).resume();
  finish_switch(c.fake_stack_, &c.caller_bottom_, &c.caller_size_);
  if (unwinding_) throw fiber_unwound{};
}

void fiber_core::unwind() noexcept {
  if (!started_ || done_ || running_fiber == this) return;
  unwinding_ = true;
  switch_in();
}

namespace {
struct unwind_on_exit {
  fiber_core& core_;
  ~unwind_on_exit() { core_.unwind(); }
};

struct until_done {
  fiber_core& core_;
  bool await_ready() const noexcept { return core_.done(); }
  void await_suspend(std::coroutine_handle<> h) noexcept { core_.on_done_ = waiter::of(h); }
  void await_resume() const noexcept {}
};
}  // namespace

task<> run_fiber(std::shared_ptr<fiber_core> core) {
  // Destroying this frame (the loop shuts down) unwinds a fiber that is still parked.
  unwind_on_exit guard{*core};
  core->switch_in();
  co_await until_done{*core};
}

}  // namespace detail

detail::fiber_core& fiber::current_or_throw(const char* what) {
  detail::fiber_core* self = detail::fiber_core::current();
  if (!self)
    throw std::logic_error(std::string(what) +
                           " called outside a fiber: it can only park a fiber (from a coroutine, co_await instead)");
  return *self;
}

void fiber::yield() {
  detail::fiber_core& self = current_or_throw("fiber::yield");
  self.loop().schedule_after_poll(self.as_waiter());
  self.park();
}

}  // namespace c10k
