// cross_channel<T>: a bounded FIFO between loops on different threads, for handing work from
// one core to another.
//
// Many producers and consumers, on any loops, coroutines or fibers (send/receive return
// awaiters with suspend_with, like every runtime wait). One std::mutex guards the items and the
// queues of waiting senders and receivers; a waiter is always resumed on its own loop: through
// schedule() when the waker runs on that loop's thread, through event_loop::post() (which wakes
// a sleeping poll) otherwise. Items from one producer arrive in the order it sent them.
//
// Waits are not cancellable (the scope is only checked before waiting); close() ends them.
#pragma once

#include <atomic>
#include <cstddef>
#include <deque>
#include <mutex>
#include <optional>
#include <system_error>
#include <utility>

#include "c10k/cancel.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/result.hpp"
#include "c10k/sync.hpp"

namespace c10k {

template <typename T>
class cross_channel {
  // A sender or receiver waiting for room or for an item.
  struct pending {
    waiter who_;
    event_loop* loop_ = nullptr;
    std::optional<T>* value_ = nullptr;
    std::error_code outcome_;
    std::atomic<bool> queued_{false};  // read without the lock by a destructor
  };

 public:
  // A channel holding up to `capacity` items (at least 1).
  explicit cross_channel(std::size_t capacity) : capacity_(capacity ? capacity : 1) {}
  cross_channel(const cross_channel&) = delete;
  cross_channel& operator=(const cross_channel&) = delete;

  class [[nodiscard]] send_awaiter : public waiter_awaitable<send_awaiter> {
   public:
    send_awaiter(cross_channel& c, T value) : c_(&c), value_(std::move(value)) {}
    send_awaiter(const send_awaiter& o) : waiter_awaitable<send_awaiter>(), c_(o.c_), value_(o.value_) {}
    ~send_awaiter() { c_->forget(c_->senders_, p_); }

    // Returns false when the outcome is ready now, true when w is queued to be woken.
    bool suspend_with(waiter w, cancel_scope* scope) {
      if (scope && scope->cancelled()) return (p_.outcome_ = scope->reason(), false);
      std::lock_guard lock(c_->mutex_);
      if (c_->closed_) return (p_.outcome_ = channel_closed(), false);
      if (!c_->receivers_.empty()) {
        // A receiver waits only on an empty buffer: hand the item straight over.
        pending* r = c_->pop(c_->receivers_);
        r->value_->emplace(std::move(*value_));
        wake(*r);
        return false;
      }
      if (c_->items_.size() < c_->capacity_) {
        c_->items_.push_back(std::move(*value_));
        return false;
      }
      c_->enqueue(c_->senders_, p_, w, &value_);
      return true;
    }
    // Success once the item is in the channel; channel_closed() (or the scope's reason) otherwise.
    result<void> await_resume() noexcept { return p_.outcome_; }

   private:
    cross_channel* c_;
    std::optional<T> value_;
    pending p_;
  };

  class [[nodiscard]] receive_awaiter : public waiter_awaitable<receive_awaiter> {
   public:
    explicit receive_awaiter(cross_channel& c) noexcept : c_(&c) {}
    receive_awaiter(const receive_awaiter& o) noexcept : waiter_awaitable<receive_awaiter>(), c_(o.c_) {}
    ~receive_awaiter() { c_->forget(c_->receivers_, p_); }

    // Returns false when the outcome is ready now, true when w is queued to be woken.
    bool suspend_with(waiter w, cancel_scope* scope) {
      if (scope && scope->cancelled()) return (p_.outcome_ = scope->reason(), false);
      std::lock_guard lock(c_->mutex_);
      if (c_->take(value_)) return false;
      if (c_->closed_) return (p_.outcome_ = channel_closed(), false);
      c_->enqueue(c_->receivers_, p_, w, &value_);
      return true;
    }
    // The next item; channel_closed() once closed and drained.
    result<T> await_resume() {
      if (p_.outcome_) return p_.outcome_;
      return std::move(*value_);
    }

   private:
    cross_channel* c_;
    std::optional<T> value_;
    pending p_;
  };

  // The awaitable that puts value in the channel, waiting while it is full.
  send_awaiter send(T value) { return send_awaiter(*this, std::move(value)); }
  // The awaitable that takes the next item, waiting while the channel is empty.
  receive_awaiter receive() noexcept { return receive_awaiter(*this); }

  // Puts value in without waiting, from any thread; returns false (value untouched) when full
  // or closed.
  bool try_send(T& value) {
    std::lock_guard lock(mutex_);
    if (closed_) return false;
    if (!receivers_.empty()) {
      pending* r = pop(receivers_);
      r->value_->emplace(std::move(value));
      wake(*r);
      return true;
    }
    if (items_.size() >= capacity_) return false;
    items_.push_back(std::move(value));
    return true;
  }
  // Takes the next item without waiting, from any thread; returns nothing when empty.
  std::optional<T> try_receive() {
    std::optional<T> out;
    std::lock_guard lock(mutex_);
    take(out);
    return out;
  }

  // Closes the channel from any thread: waiting senders fail, waiting receivers get
  // channel_closed(); buffered items can still be received.
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
    for (auto* q : {&senders_, &receivers_}) {
      while (!q->empty()) {
        pending* p = pop(*q);
        p->outcome_ = channel_closed();
        wake(*p);
      }
    }
  }
  // True once close() was called.
  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  // Resumes p's owner on its own loop. The caller holds mutex_, and p may be gone as soon as
  // the owner runs, so everything needed is copied first.
  static void wake(pending& p) {
    const waiter w = p.who_;
    event_loop* loop = p.loop_;
    if (loop == event_loop::current()) loop->schedule(w);
    else loop->post([w] { w.resume(); });
  }

  void enqueue(std::deque<pending*>& q, pending& p, waiter w, std::optional<T>* value) {
    p.who_ = w;
    p.loop_ = event_loop::current();
    p.value_ = value;
    p.queued_.store(true, std::memory_order_relaxed);
    q.push_back(&p);
  }
  pending* pop(std::deque<pending*>& q) {
    pending* p = q.front();
    q.pop_front();
    p->queued_.store(false, std::memory_order_release);
    return p;
  }
  // Takes p out of q if it is still waiting (its owner is being destroyed).
  void forget(std::deque<pending*>& q, pending& p) {
    if (!p.queued_.load(std::memory_order_acquire)) return;  // the common case: no lock
    std::lock_guard lock(mutex_);
    if (!p.queued_.load(std::memory_order_relaxed)) return;
    for (auto it = q.begin(); it != q.end(); ++it) {
      if (*it == &p) {
        q.erase(it);
        break;
      }
    }
  }
  // Moves the first item into out and refills from a waiting sender; returns false when empty.
  bool take(std::optional<T>& out) {
    if (items_.empty()) return false;
    out.emplace(std::move(items_.front()));
    items_.pop_front();
    if (!senders_.empty()) {
      pending* s = pop(senders_);
      items_.push_back(std::move(**s->value_));
      wake(*s);
    }
    return true;
  }

  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::deque<T> items_;
  std::deque<pending*> senders_;
  std::deque<pending*> receivers_;
  bool closed_ = false;
};

}  // namespace c10k
