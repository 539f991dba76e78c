// quiet_thread: a std::thread started with every signal blocked (private to c10k).
#pragma once

#include <signal.h>

#include <thread>
#include <utility>

namespace c10k::detail {

// Starts a thread running f with every signal blocked. A thread inherits its creator's mask,
// and SIGHUP, SIGUSR1 and the stop signals belong to runtime::wait_for_signal: a thread of
// ours that took one would end the process with its default action (a logrotate's SIGHUP
// killing the server), whichever thread started it. The creator's mask is back on return,
// also when the thread cannot start.
template <typename F>
std::thread quiet_thread(F&& f) {
  struct all_blocked {
    sigset_t previous;
    all_blocked() {
      sigset_t all;
      ::sigfillset(&all);
      ::pthread_sigmask(SIG_BLOCK, &all, &previous);
    }
    ~all_blocked() { ::pthread_sigmask(SIG_SETMASK, &previous, nullptr); }
  } blocked;
  return std::thread(std::forward<F>(f));
}

}  // namespace c10k::detail
