// waiter: whoever is suspended on an operation, a coroutine or a fiber.
//
// This is the seam between the loop and the two kinds of user-level thread. The loop and its
// backends never resume a std::coroutine_handle directly: they schedule a waiter, and the waiter
// knows how to continue its owner. A coroutine's waiter resumes its handle; a fiber's waiter
// (see fiber.hpp, later) switches to the fiber's stack. Two words, copied by value.
#pragma once

#include <coroutine>

namespace c10k {

class waiter {
 public:
  using resume_fn = void (*)(void* context);

  constexpr waiter() noexcept = default;
  constexpr waiter(resume_fn fn, void* context) noexcept : fn_(fn), context_(context) {}

  // A waiter that resumes the coroutine h.
  static waiter of(std::coroutine_handle<> h) noexcept {
    return {[](void* p) { std::coroutine_handle<>::from_address(p).resume(); }, h.address()};
  }

  // Continues the suspended owner; returns when it suspends again or finishes.
  void resume() const { fn_(context_); }
  explicit operator bool() const noexcept { return fn_ != nullptr; }

 private:
  resume_fn fn_ = nullptr;
  void* context_ = nullptr;
};

}  // namespace c10k
