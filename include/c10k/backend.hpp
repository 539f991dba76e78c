// backend: the contract between an event loop and one event mechanism.
//
// A backend carries out operations (operation.hpp) and, when one completes, stores its result
// and pushes its waiter onto the loop's ready queue; it never resumes anyone itself, so no user
// code runs while it walks its event list. Readiness backends (epoll, later poll and select)
// try the system call at once and wait for readiness only after EAGAIN; completion backends
// (io_uring, later) submit the operation and report its completion. The loop cannot tell which.
//
// Rules every backend keeps:
// - start() on an fd that was attach()ed and not yet detach()ed.
// - At most one operation per direction (read side: read/accept; write side: the rest) per fd.
// - After abandon(op) or op's completion, the backend never touches op again.
// - Every fd is closed through close() (or detach()ed right before the caller closes it); its
//   in-flight operations complete with -ECANCELED.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string_view>
#include <system_error>

#include "c10k/backend_factory.hpp"
#include "c10k/detail/buffer_pool.hpp"
#include "c10k/detail/ready_queue.hpp"
#include "c10k/operation.hpp"
#include "c10k/result.hpp"

namespace c10k {

// A counter written by one thread (its loop's) and read by any: a relaxed load and store,
// as cheap as a plain increment, with no data race for the readers.
class counter {
 public:
  counter& operator++() noexcept { return *this += 1; }
  counter& operator+=(std::uint64_t n) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    return *this;
  }
  counter& operator-=(std::uint64_t n) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
    return *this;
  }
  counter& operator--() noexcept { return *this -= 1; }
  counter& operator=(std::uint64_t n) noexcept {
    v_.store(n, std::memory_order_relaxed);
    return *this;
  }
  operator std::uint64_t() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

// What a backend has done, for benchmarks that report system calls per request. Readable from
// any thread while the loop runs.
struct backend_counters {
  counter operations;      // operations started
  counter syscalls;        // system calls made, including the operations' own
  counter events;          // readiness or completion events returned by the kernel
  counter buffers_in_use;  // receive buffers lent out by the backend right now
};

class backend {
 public:
  explicit backend(ready_queue& ready) noexcept : ready_(ready) {}
  backend(const backend&) = delete;
  backend& operator=(const backend&) = delete;
  virtual ~backend() = default;

  // The name make_backend() knows this backend by.
  virtual std::string_view name() const noexcept = 0;

  // Prepares fd for operations; returns an error when this backend cannot watch it.
  virtual result<void> attach(int fd) = 0;
  // Forgets fd, completing its in-flight operations with -ECANCELED; call right before close.
  virtual void detach(int fd) noexcept = 0;
  // Detaches fd and closes it. A completion backend may close it asynchronously, after
  // cancelling what the kernel still has in flight on it.
  virtual void close(int fd) noexcept;

  // Starts op. Returns false when op completed at once (op.result is set, nobody is
  // scheduled), true when it is in flight and its waiter will be scheduled on completion.
  virtual bool start(operation& op) = 0;
  // Makes an in-flight op complete soon with -ECANCELED; does nothing if it already completed.
  virtual void cancel(operation& op) noexcept = 0;
  // Forgets an in-flight op without scheduling its waiter (its owner is being destroyed).
  virtual void abandon(operation& op) noexcept = 0;

  // Waits up to `timeout` (negative: without limit; zero: not at all) for events and completes
  // the operations they finish; returns how many completed. Returns early after wake().
  virtual std::size_t poll(std::chrono::nanoseconds timeout) = 0;
  // Makes a poll() in progress on another thread return. Thread-safe.
  virtual void wake() noexcept = 0;

  // What this backend has done so far.
  const backend_counters& counters() const noexcept { return counters_; }

  // Takes back the buffer a receive lent (recv_buffer does this); loop thread only.
  virtual void release_buffer(std::uint32_t id) noexcept {
    pool_.release(id);
    --counters_.buffers_in_use;
  }

  // The size of the buffers receive lends.
  static constexpr std::size_t receive_buffer_bytes = 16 * 1024;

 protected:
  // perform(op) for readiness backends, with receive served from the pool: a buffer is lent
  // only when the read returns data. Returns what perform returns.
  long long try_op(operation& op) {
    ++counters_.syscalls;
    if (op.kind != op_kind::receive) return perform(op);
    const std::uint32_t id = pool_.acquire();
    op.buf = pool_.data(id);
    op.len = pool_.buffer_bytes();
    const long long r = perform(op);
    if (r <= 0) {
      pool_.release(id);
      op.buf = nullptr;
      return r;
    }
    op.buffer_id = id;
    ++counters_.buffers_in_use;
    return r;
  }

  // Records op's result and queues its waiter: the one way an operation completes.
  void complete(operation& op, long long res) {
    op.result = res;
    op.in_flight = false;
    ready_.push(op.who);
  }

  ready_queue& ready_;
  backend_counters counters_;
  buffer_pool pool_{receive_buffer_bytes};
};

}  // namespace c10k
