// Shared pieces of the stress suite: the size knob, the signal storm aimed at loop threads,
// and a watchdog that turns a hang into a failure.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace c10k::stress {

// The suite's size multiplier: C10K_STRESS_SCALE (default 1; 10 for a long run). The sanitizer
// build divides the counts by 4 on top, so that `make test-sanitize` stays short.
inline double scale() {
  double s = 1;
  if (const char* e = std::getenv("C10K_STRESS_SCALE"); e && std::atof(e) > 0) s = std::atof(e);
#ifdef C10K_SANITIZED
  s /= 4;
#endif
  return s;
}

// Whether this is the sanitizer build (ASan and UBSan): code runs several times slower there.
constexpr bool sanitized() {
#ifdef C10K_SANITIZED
  return true;
#else
  return false;
#endif
}

// The factor the server's short timeouts and the client's patience are stretched by: 3 in the
// sanitizer build. There a loop on a loaded 2-core machine was seen answering a first request
// 4-6 s after connect (slowest first answer), so a client that fell that far behind in reading
// a streamed response met the server's 2 s send timeout and saw it truncated (abort_response:
// "end of stream inside a response"), which the tally rightly counts as bad.
constexpr int slowdown() { return sanitized() ? 3 : 1; }

// How long the load client waits for any one step (connect, a handshake, a response, a close)
// before it calls the server hung: longer than every server timeout it may have to wait out.
constexpr std::chrono::seconds patience() { return std::chrono::seconds(10 * slowdown()); }

// n scaled, at least `floor`.
inline std::size_t scaled(std::size_t n, std::size_t floor = 1) {
  const auto v = static_cast<std::size_t>(static_cast<double>(n) * scale());
  return v < floor ? floor : v;
}

// The random seed of a run: C10K_STRESS_SEED, else from the clock (printed by the tests so a
// failure can be replayed, as far as thread interleaving allows).
inline std::uint64_t seed() {
  if (const char* e = std::getenv("C10K_STRESS_SEED"); e && *e) return std::strtoull(e, nullptr, 10);
  return static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
}

// The threads a storm aims at: each notes itself (a server loop from inside a handler, a
// client loop when it starts). Only threads that outlive the storm, or that stay joinable
// until it ends, may be noted: pthread_kill on a joined thread is undefined.
class thread_registry {
 public:
  // Records the calling thread (once).
  void note_current() {
    const pthread_t self = ::pthread_self();
    std::lock_guard lock(mutex_);
    for (pthread_t t : threads_)
      if (::pthread_equal(t, self)) return;
    threads_.push_back(self);
  }
  // The threads recorded so far.
  std::vector<pthread_t> snapshot() const {
    std::lock_guard lock(mutex_);
    return threads_;
  }
  // How many threads were recorded.
  std::size_t size() const {
    std::lock_guard lock(mutex_);
    return threads_.size();
  }

 private:
  mutable std::mutex mutex_;
  std::vector<pthread_t> threads_;
};

// SIGUSR1 handled by a function that only counts, installed WITHOUT SA_RESTART: every blocking
// system call a signalled thread is in (epoll_wait, poll, select, io_uring_enter, a futex)
// returns EINTR, and the runtime has to ride it out. Installed once per process and left
// installed: a SIGUSR1 still pending on some long-lived thread (the helper pool) when a test
// ends must never meet the default action, which kills the process.
class no_restart_handler {
 public:
  // Installs the handler (once).
  static void install() {
    static const bool done = [] {
      struct sigaction sa {};
      sa.sa_handler = [](int) { delivered_.fetch_add(1, std::memory_order_relaxed); };
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = 0;  // no SA_RESTART: that is the point
      return ::sigaction(SIGUSR1, &sa, nullptr) == 0;
    }();
    (void)done;
  }
  // Signals handled so far in this process.
  static std::uint64_t delivered() { return delivered_.load(); }

 private:
  static inline std::atomic<std::uint64_t> delivered_{0};
};

// A thread that sends SIGUSR1 to every registered thread every `period` until stopped.
class signal_storm {
 public:
  signal_storm(const thread_registry& targets, std::chrono::microseconds period) : targets_(&targets) {
    no_restart_handler::install();
    thread_ = std::thread([this, period] {
      std::vector<pthread_t> ts;
      unsigned round = 0;
      while (!stop_.load(std::memory_order_relaxed)) {
        if (round++ % 64 == 0) ts = targets_->snapshot();  // threads noted meanwhile join in
        for (pthread_t t : ts)
          if (::pthread_kill(t, SIGUSR1) == 0) sent_.fetch_add(1, std::memory_order_relaxed);
        std::this_thread::sleep_for(period);
      }
    });
  }
  signal_storm(const signal_storm&) = delete;
  ~signal_storm() { stop(); }

  // Stops sending and joins the sending thread.
  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  // Signals sent so far.
  std::uint64_t sent() const { return sent_.load(); }

 private:
  const thread_registry* targets_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> sent_{0};
  std::thread thread_;
};

// Aborts the process with `what` when not disarmed within `limit`: a hang in a stress test
// becomes a failure with a name instead of a ctest timeout without one.
class watchdog {
 public:
  watchdog(std::string what, std::chrono::seconds limit) : what_(std::move(what)) {
    thread_ = std::thread([this, limit] {
      std::unique_lock lock(mutex_);
      if (!cv_.wait_for(lock, limit, [this] { return disarmed_; })) {
        std::fprintf(stderr, "stress watchdog: %s did not finish within %llds\n", what_.c_str(),
                     static_cast<long long>(limit.count()));
        std::fflush(stderr);
        std::abort();
      }
    });
  }
  watchdog(const watchdog&) = delete;
  ~watchdog() { disarm(); }

  // The guarded step finished.
  void disarm() {
    {
      std::lock_guard lock(mutex_);
      disarmed_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

 private:
  std::string what_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  std::thread thread_;
};

}  // namespace c10k::stress
