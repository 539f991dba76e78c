#include "c10k/offload.hpp"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

#include "c10k/detail/quiet_thread.hpp"
#include "c10k/runtime.hpp"

namespace c10k {
namespace {

// Helper threads live as long as the process; they wait on a condition variable when idle.
class helper_pool {
 public:
  helper_pool() {
    const unsigned n = std::max(2u, available_cpus());
    for (unsigned i = 0; i < n; ++i) threads_.push_back(detail::quiet_thread([this] { work(); }));
  }
  ~helper_pool() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    cv_.notify_all();
    for (auto& t : threads_) t.join();
  }
  void submit(std::function<void()> job) {
    {
      std::lock_guard lock(mutex_);
      jobs_.push_back(std::move(job));
      queued_.store(jobs_.size(), std::memory_order_relaxed);
    }
    cv_.notify_one();
  }

 private:
  void work() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock lock(mutex_);
        cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
        if (jobs_.empty()) return;
        job = std::move(jobs_.front());
        jobs_.pop_front();
        queued_.store(jobs_.size(), std::memory_order_relaxed);
      }
      busy_.fetch_add(1, std::memory_order_relaxed);
      job();
      busy_.fetch_sub(1, std::memory_order_relaxed);
    }
  }

 public:
  helper_pool_stats snapshot() const noexcept {
    return {threads_.size(), busy_.load(std::memory_order_relaxed), queued_.load(std::memory_order_relaxed)};
  }

 private:
  // Gauges for metrics (the helper threads' own, never touched by a loop).
  std::atomic<std::size_t> busy_{0};
  std::atomic<std::size_t> queued_{0};

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> jobs_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

std::atomic<const helper_pool*> started_pool{nullptr};

}  // namespace

void run_on_helper_pool(std::function<void()> job) {
  static helper_pool pool;
  started_pool.store(&pool, std::memory_order_release);
  pool.submit(std::move(job));
}

helper_pool_stats helper_pool_snapshot() noexcept {
  const helper_pool* p = started_pool.load(std::memory_order_acquire);
  return p ? p->snapshot() : helper_pool_stats{};
}

namespace detail {

void offload_job::start(std::shared_ptr<offload_job> self, waiter w, event_loop& loop) {
  // Set before submitting: the pool's mutex publishes them to the helper.
  self->who_ = w;
  self->loop_ = &loop;
  run_on_helper_pool([self = std::move(self)] {
    self->run();
    self->deliver(self);
  });
}

void offload_job::deliver(const std::shared_ptr<offload_job>& self) {
  // Under the mutex: a caller revoking now waits until the post is done, so the loop it runs
  // on (which destroys its tasks, and with them this caller, before itself) is still there.
  std::lock_guard lock(mutex_);
  if (!loop_) return;  // nobody waits: the value goes with the last reference
  loop_->post([self] {
    // The caller may have been cancelled or destroyed since the post.
    if (self->revoke()) self->who_.resume();
  });
}

bool offload_job::revoke() noexcept {
  std::lock_guard lock(mutex_);
  return std::exchange(loop_, nullptr) != nullptr;
}

}  // namespace detail

}  // namespace c10k
