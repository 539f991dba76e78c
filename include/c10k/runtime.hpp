// runtime: N event loops, one thread each, optionally pinned one per CPU.
//
// The scale-out of c10k: every loop is independent (its own backend, timers and, in a server,
// its own SO_REUSEPORT listener), so the threads share nothing on the request path.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "c10k/event_loop.hpp"

namespace c10k {

struct runtime_options {
  unsigned threads = 0;            // 0: one per CPU this process may run on
  std::string backend = "auto";
  bool pin_cpus = false;           // pin loop i to the i-th allowed CPU
};

class runtime {
 public:
  explicit runtime(runtime_options options = {});
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;
  // Stops and joins every loop.
  ~runtime();

  // Starts the threads. Each makes its loop, calls setup(loop, index) on its own thread, then
  // runs the loop until stop(). Returns once every setup has returned; rethrows the first
  // exception a setup threw (after stopping the others). SIGINT, SIGTERM, SIGHUP and SIGUSR1
  // are blocked in the loop threads so that wait_for_signal() on the caller's thread gets them
  // (SIGPIPE is ignored process-wide by the first event_loop).
  void start(std::function<void(event_loop&, unsigned)> setup);
  // Stops every loop. Thread-safe.
  void stop() noexcept;
  // Runs fn on loop i's thread (see event_loop::post); returns false when that loop has
  // already ended. Thread-safe.
  bool post(unsigned i, std::function<void()> fn);
  // Waits for every loop thread to end.
  void join();
  // Blocks until SIGINT or SIGTERM arrives or every loop ended; returns the signal number,
  // or 0 when the loops ended first. With on_service_signal, SIGHUP and SIGUSR1 (blocked in
  // the loop threads) are taken too, each passed to it on this thread while the wait goes on.
  int wait_for_signal(const std::function<void(int)>& on_service_signal = {});

  unsigned size() const noexcept { return options_.threads; }
  const runtime_options& options() const noexcept { return options_; }

 private:
  runtime_options options_;
  // The live loops; a thread clears its entry (under the mutex) before destroying its loop,
  // so stop() and post() never reach a loop that is gone.
  std::mutex loops_mutex_;
  std::vector<event_loop*> loops_;
  std::vector<std::thread> threads_;
  int done_fd_ = -1;  // eventfd: counts loop threads that ended, for wait_for_signal
};

// The number of CPUs this process may run on.
unsigned available_cpus() noexcept;

}  // namespace c10k
