// sync: mutex, event, semaphore, channel<T> and wait_group for the coroutines and fibers of
// one loop.
//
// Every wait returns an awaiter whose core is suspend_with(waiter, scope) (cancel.hpp), so the
// same call serves `co_await m.lock()` in a coroutine and `fiber::await(m.lock())` on a fiber.
// A waiter that has to wait joins the primitive's FIFO queue; whoever wakes it schedules it on
// the loop (never resumes it inline), so a set() or send() returns before any woken code runs.
// Every wait (mutex, event, semaphore, channel, wait_group) ends early when its cancel scope is
// cancelled, with the scope's reason, so with_timeout works on them; a wake that got there
// first wins (a mutex handed over is held).
//
// Not thread-safe: one loop's coroutines and fibers share these. To hand work to another loop,
// use cross_channel (cross_channel.hpp).
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <system_error>
#include <utility>

#include "c10k/cancel.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/result.hpp"

namespace c10k {

namespace detail {

class wait_queue;

// One suspended waiter in a primitive's queue. Destroying it (its coroutine or fiber is being
// destroyed) takes it out of the queue.
class sync_wait : public cancellable {
 public:
  sync_wait() = default;
  sync_wait(const sync_wait&) noexcept : cancellable() {}  // only before it waits
  sync_wait& operator=(const sync_wait&) = delete;
  ~sync_wait();

  // Leaves the queue and resumes the owner with `reason`.
  void cancel(std::error_code reason) noexcept override;

 protected:
  // Joins q and remembers w and scope; call only when about to return true from suspend_with.
  void wait_in(wait_queue& q, waiter w, cancel_scope* scope) noexcept;
  // For await_resume: leaves the scope; returns the error a wake or a cancel set.
  std::error_code finish() noexcept {
    if (scope_) scope_->leave(this);
    scope_ = nullptr;
    return outcome_;
  }

  std::error_code outcome_;

 private:
  friend class wait_queue;
  sync_wait* prev_ = nullptr;
  sync_wait* next_ = nullptr;
  wait_queue* queue_ = nullptr;
  event_loop* loop_ = nullptr;
  waiter who_;
  cancel_scope* scope_ = nullptr;
};

// A FIFO of sync_waits, linked through the waits themselves (no allocation per wait).
class wait_queue {
 public:
  wait_queue() = default;
  wait_queue(const wait_queue&) = delete;
  wait_queue& operator=(const wait_queue&) = delete;
  // Forgets the waits still queued (they are never resumed).
  ~wait_queue();

  bool empty() const noexcept { return head_ == nullptr; }
  // The first wait, still queued (nullptr when empty).
  template <typename W>
  W* front() const noexcept { return static_cast<W*>(head_); }
  // Takes the first wait out and schedules its owner with `outcome`.
  void wake_front(std::error_code outcome = {}) noexcept;
  // Wakes every queued wait with `outcome`.
  void wake_all(std::error_code outcome = {}) noexcept {
    while (!empty()) wake_front(outcome);
  }

 private:
  friend class sync_wait;
  void push(sync_wait& w) noexcept;
  void remove(sync_wait& w) noexcept;

  sync_wait* head_ = nullptr;
  sync_wait* tail_ = nullptr;
};

}  // namespace detail

// The error a closed channel reports to send, and to receive once it is drained.
inline std::error_code channel_closed() noexcept { return std::make_error_code(std::errc::broken_pipe); }

// A mutex for code that may suspend while holding it. Unlock hands the lock straight to the
// first waiter (FIFO, no barging), so nobody starves.
class mutex {
 public:
  mutex() = default;
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  class [[nodiscard]] lock_awaiter : public waiter_awaitable<lock_awaiter>, public detail::sync_wait {
   public:
    explicit lock_awaiter(mutex& m) noexcept : m_(&m) {}
    // Takes the lock now (false) or queues w for it (true); false with the scope's reason when
    // the scope is already cancelled.
    wait_info describe() const noexcept override { return {"mutex"}; }
    bool suspend_with(waiter w, cancel_scope* scope) {
      if (const std::error_code why = already_cancelled(scope)) return (outcome_ = why, false);
      if (m_->try_lock()) return false;
      wait_in(m_->waiters_, w, scope);
      return true;
    }
    // Success: the caller holds the lock; the scope's reason when cancelled first (no lock).
    result<void> await_resume() noexcept { return finish(); }

   private:
    mutex* m_;
  };

  // Unlocks its mutex when destroyed.
  class [[nodiscard]] guard {
   public:
    explicit guard(mutex& m) noexcept : m_(&m) {}
    guard(guard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
    guard& operator=(guard&&) = delete;
    ~guard() {
      if (m_) m_->unlock();
    }

   private:
    mutex* m_;
  };

  class [[nodiscard]] scoped_awaiter : public waiter_awaitable<scoped_awaiter> {
   public:
    explicit scoped_awaiter(mutex& m) noexcept : lock_(m), m_(&m) {}
    // Returns false when the outcome is ready now, true when w is queued to be woken.
    bool suspend_with(waiter w, cancel_scope* scope) { return lock_.suspend_with(w, scope); }
    // The guard that unlocks; the scope's reason when cancelled first (no lock).
    result<guard> await_resume() noexcept {
      if (auto got = lock_.await_resume(); !got) return got.error();
      return guard(*m_);
    }

   private:
    lock_awaiter lock_;
    mutex* m_;
  };

  // The awaitable that takes the lock (yields nothing).
  lock_awaiter lock() noexcept { return lock_awaiter(*this); }
  // The awaitable that takes the lock and yields a guard releasing it.
  scoped_awaiter scoped_lock() noexcept { return scoped_awaiter(*this); }
  // Takes the lock if it is free; returns whether it did.
  bool try_lock() noexcept {
    if (locked_) return false;
    locked_ = true;
    return true;
  }
  // Releases the lock, or passes it to the first waiter.
  void unlock() noexcept;
  // True while someone holds the lock.
  bool locked() const noexcept { return locked_; }

 private:
  bool locked_ = false;
  detail::wait_queue waiters_;
};

// A flag that waiters wait to see set. set() wakes everyone waiting; it stays set until reset().
class event {
 public:
  explicit event(bool set = false) noexcept : set_(set) {}
  event(const event&) = delete;
  event& operator=(const event&) = delete;

  class [[nodiscard]] wait_awaiter : public waiter_awaitable<wait_awaiter>, public detail::sync_wait {
   public:
    explicit wait_awaiter(event& e) noexcept : e_(&e) {}
    // Returns false when the outcome is ready now, true when w is queued to be woken.
    wait_info describe() const noexcept override { return {"event"}; }
    bool suspend_with(waiter w, cancel_scope* scope) {
      if (const std::error_code why = already_cancelled(scope)) return (outcome_ = why, false);
      if (e_->set_) return false;
      wait_in(e_->waiters_, w, scope);
      return true;
    }
    // Success once the event is set; the scope's reason when cancelled first.
    result<void> await_resume() noexcept { return finish(); }

   private:
    event* e_;
  };

  // The awaitable that waits until the event is set.
  wait_awaiter wait() noexcept { return wait_awaiter(*this); }
  // Sets the event and wakes every waiter.
  void set() noexcept {
    set_ = true;
    waiters_.wake_all();
  }
  // Clears the event; later waits wait again.
  void reset() noexcept { set_ = false; }
  // True while the event is set.
  bool is_set() const noexcept { return set_; }

 private:
  bool set_;
  detail::wait_queue waiters_;
};

// A counting semaphore. release() hands permits straight to waiters in FIFO order.
class semaphore {
 public:
  explicit semaphore(std::size_t permits) noexcept : permits_(permits) {}
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  class [[nodiscard]] acquire_awaiter : public waiter_awaitable<acquire_awaiter>, public detail::sync_wait {
   public:
    explicit acquire_awaiter(semaphore& s) noexcept : s_(&s) {}
    // Returns false when the outcome is ready now, true when w is queued to be woken.
    wait_info describe() const noexcept override { return {"semaphore"}; }
    bool suspend_with(waiter w, cancel_scope* scope) {
      if (const std::error_code why = already_cancelled(scope)) return (outcome_ = why, false);
      if (s_->try_acquire()) return false;
      wait_in(s_->waiters_, w, scope);
      return true;
    }
    // Success once a permit is the caller's; the scope's reason when cancelled first (no permit).
    result<void> await_resume() noexcept { return finish(); }

   private:
    semaphore* s_;
  };

  // The awaitable that takes one permit.
  acquire_awaiter acquire() noexcept { return acquire_awaiter(*this); }
  // Takes a permit if one is free; returns whether it did.
  bool try_acquire() noexcept {
    if (permits_ == 0 || !waiters_.empty()) return false;
    --permits_;
    return true;
  }
  // Returns n permits: each goes to the first waiter, or back to the count.
  void release(std::size_t n = 1) noexcept;
  // The free permits.
  std::size_t available() const noexcept { return permits_; }

 private:
  std::size_t permits_;
  detail::wait_queue waiters_;
};

// Waits for a number of jobs to finish: add() before starting them, done() as each ends,
// wait() until the count is back to zero.
class wait_group {
 public:
  wait_group() = default;
  wait_group(const wait_group&) = delete;
  wait_group& operator=(const wait_group&) = delete;

  class [[nodiscard]] wait_awaiter : public waiter_awaitable<wait_awaiter>, public detail::sync_wait {
   public:
    explicit wait_awaiter(wait_group& g) noexcept : g_(&g) {}
    // Returns false when the outcome is ready now, true when w is queued to be woken.
    wait_info describe() const noexcept override { return {"wait_group"}; }
    bool suspend_with(waiter w, cancel_scope* scope) {
      if (const std::error_code why = already_cancelled(scope)) return (outcome_ = why, false);
      if (g_->count_ == 0) return false;
      wait_in(g_->waiters_, w, scope);
      return true;
    }
    // Success once the count is zero; the scope's reason when cancelled first.
    result<void> await_resume() noexcept { return finish(); }

   private:
    wait_group* g_;
  };

  // Adds n jobs.
  void add(std::size_t n = 1) noexcept { count_ += n; }
  // Ends one job; the last one wakes every waiter.
  void done() noexcept {
    if (count_ > 0 && --count_ == 0) waiters_.wake_all();
  }
  // The awaitable that waits until every job ended.
  wait_awaiter wait() noexcept { return wait_awaiter(*this); }
  // The jobs not done yet.
  std::size_t count() const noexcept { return count_; }

 private:
  std::size_t count_ = 0;
  detail::wait_queue waiters_;
};

// A bounded FIFO of T between the coroutines and fibers of one loop. send waits while it is
// full, receive while it is empty. close() ends it: sends fail at once, receives drain what is
// buffered and then fail; both report channel_closed().
template <typename T>
class channel {
 public:
  // A channel holding up to `capacity` items (at least 1).
  explicit channel(std::size_t capacity) : capacity_(capacity ? capacity : 1) {}
  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;

  class [[nodiscard]] send_awaiter : public waiter_awaitable<send_awaiter>, public detail::sync_wait {
   public:
    send_awaiter(channel& c, T value) : c_(&c), value_(std::move(value)) {}
    // Returns false when the outcome is ready now, true when w is queued to be woken.
    wait_info describe() const noexcept override { return {"channel send"}; }
    bool suspend_with(waiter w, cancel_scope* scope) {
      if (const std::error_code why = already_cancelled(scope)) return (outcome_ = why, false);
      if (c_->closed_) return (outcome_ = channel_closed(), false);
      if (auto* r = c_->receivers_.template front<typename channel::receive_awaiter>()) {
        // A receiver waits only on an empty buffer: hand the item straight over.
        r->value_.emplace(std::move(*value_));
        c_->receivers_.wake_front();
        return false;
      }
      if (c_->items_.size() < c_->capacity_) {
        c_->items_.push_back(std::move(*value_));
        return false;
      }
      wait_in(c_->senders_, w, scope);
      return true;
    }
    // Success once the item is in the channel; channel_closed() or the scope's reason otherwise.
    result<void> await_resume() noexcept { return finish(); }

   private:
    friend class channel;
    channel* c_;
    std::optional<T> value_;
  };

  class [[nodiscard]] receive_awaiter : public waiter_awaitable<receive_awaiter>, public detail::sync_wait {
   public:
    explicit receive_awaiter(channel& c) noexcept : c_(&c) {}
    // Returns false when the outcome is ready now, true when w is queued to be woken.
    wait_info describe() const noexcept override { return {"channel receive"}; }
    bool suspend_with(waiter w, cancel_scope* scope) {
      if (const std::error_code why = already_cancelled(scope)) return (outcome_ = why, false);
      if (c_->take(value_)) return false;
      if (c_->closed_) return (outcome_ = channel_closed(), false);
      wait_in(c_->receivers_, w, scope);
      return true;
    }
    // The next item; channel_closed() once closed and drained, or the scope's reason.
    result<T> await_resume() {
      if (auto ec = finish()) return ec;
      return std::move(*value_);
    }

   private:
    friend class channel;
    channel* c_;
    std::optional<T> value_;
  };

  // The awaitable that puts value in the channel, waiting while it is full.
  send_awaiter send(T value) { return send_awaiter(*this, std::move(value)); }
  // The awaitable that takes the next item, waiting while the channel is empty.
  receive_awaiter receive() noexcept { return receive_awaiter(*this); }

  // Puts value in without waiting; returns false (value untouched) when full or closed.
  bool try_send(T& value) {
    if (closed_) return false;
    if (auto* r = receivers_.template front<receive_awaiter>()) {
      r->value_.emplace(std::move(value));
      receivers_.wake_front();
      return true;
    }
    if (items_.size() >= capacity_) return false;
    items_.push_back(std::move(value));
    return true;
  }
  // Takes the next item without waiting; returns it, or nothing when empty.
  std::optional<T> try_receive() {
    std::optional<T> out;
    take(out);
    return out;
  }

  // Closes the channel: waiting senders fail, waiting receivers get channel_closed(); buffered
  // items can still be received.
  void close() noexcept {
    closed_ = true;
    senders_.wake_all(channel_closed());
    receivers_.wake_all(channel_closed());
  }
  // True once close() was called.
  bool closed() const noexcept { return closed_; }
  // The items buffered now.
  std::size_t size() const noexcept { return items_.size(); }
  std::size_t capacity() const noexcept { return capacity_; }

 private:
  // Moves the first buffered item into out and refills from a waiting sender; returns false
  // when nothing is buffered.
  bool take(std::optional<T>& out) {
    if (items_.empty()) return false;
    out.emplace(std::move(items_.front()));
    items_.pop_front();
    if (auto* s = senders_.template front<send_awaiter>()) {
      items_.push_back(std::move(*s->value_));
      senders_.wake_front();
    }
    return true;
  }

  std::size_t capacity_;
  std::deque<T> items_;
  bool closed_ = false;
  detail::wait_queue senders_;
  detail::wait_queue receivers_;
};

}  // namespace c10k
