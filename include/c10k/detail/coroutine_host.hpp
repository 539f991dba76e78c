// coroutine_host: a fiber that runs coroutines on its own stack.
//
// A coroutine chain started on a fiber's stack (fiber::await of a task) normally leaves that
// stack at its first real suspension: the loop resumes it later from its own stack. A fiber
// spawned with fiber_options::hosts_coroutines keeps the chain: wherever one of its coroutines
// would suspend, the wait parks the whole fiber instead and, once the fiber is resumed, the
// coroutine goes on at once (await_suspend returns false). So the chain runs start to end on
// the fiber's stack, and ordinary blocking-style code it calls (fiber::await) parks the same
// fiber. This is how the HTTP server runs whole connections on fibers (server_options).
#pragma once

#include <coroutine>

#include "c10k/waiter.hpp"

namespace c10k {

class cancel_scope;

namespace detail {

struct coroutine_host {
  waiter resume;               // switches back into the fiber
  void (*park)(void* fiber);   // switches out of the fiber until `resume` runs
  void* fiber;
  // A coroutine of the chain that a transfer on a deep stack handed back (task.hpp's
  // resume_later): the fiber resumes it from the base of its stack.
  std::coroutine_handle<> bounced{};
};

// The hosting fiber running on this thread, or nullptr; kept by the fiber switches.
inline thread_local coroutine_host* running_host = nullptr;

// The suspension of every runtime wait: `a` takes the coroutine's waiter `w` and returns true
// when w will be resumed later (the coroutine suspends), false when the result is ready now.
// On a hosting fiber `a` takes the fiber's waiter instead and the fiber parks; returns false
// either way, so the coroutine continues on the fiber's stack.
template <typename Awaiter>
bool suspend_or_park(Awaiter& a, waiter w, cancel_scope* scope) {
  if (coroutine_host* host = running_host) [[unlikely]] {
    if (a.suspend_with(host->resume, scope)) host->park(host->fiber);
    return false;
  }
  return a.suspend_with(w, scope);
}

}  // namespace detail
}  // namespace c10k
