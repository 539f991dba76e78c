// cross_channel<T>: a bounded FIFO between loops on different threads, for handing work from
// one core to another.
//
// Many producers and consumers, on any loops, coroutines or fibers (send/receive return
// awaiters with suspend_with, like every runtime wait). One std::mutex guards the items and the
// queues of waiting senders and receivers; a waiter is always resumed on its own loop: through
// schedule() when the waker runs on that loop's thread, through event_loop::post() (which wakes
// a sleeping poll) otherwise. Items from one producer arrive in the order it sent them.
//
// Waits end with the scope's reason when their cancel scope is cancelled (so
// with_timeout(d, ch.receive()) works), unless a wake got there first: then the wake wins.
//
// Lifetimes across threads: a wait that suspends puts a small shared state in the queue, never
// a pointer into the waiter's frame. A waker on another thread moves the item through that
// state and posts a function holding it to the waiter's loop; when the awaiter is destroyed
// first (its task destroyed, its loop shut down), it marks the state dead under the mutex and
// the posted function resumes nobody. An item already handed to a receiver that dies before it
// runs goes back to the front of the channel, so no item is lost. The channel must outlive its
// awaiters; each awaiter is destroyed on its own loop's thread.
#pragma once

#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <system_error>
#include <type_traits>
#include <utility>

#include "c10k/cancel.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/result.hpp"
#include "c10k/sync.hpp"

namespace c10k {

template <typename T>
class cross_channel {
  // What a suspended sender or receiver shares with whoever wakes it.
  struct wait_state {
    waiter who_;
    event_loop* loop_ = nullptr;
    std::optional<T> value_;   // a sender's item until taken; the item handed to a receiver
    std::error_code outcome_;  // channel_closed() or the scope's reason
    bool queued_ = false;      // in senders_ or receivers_ (under the channel's mutex)
    bool alive_ = true;        // the awaiter still exists (only on loop_'s thread)
  };
  using state_ptr = std::shared_ptr<wait_state>;
  using wait_queue = std::deque<state_ptr>;

  // What send_awaiter and receive_awaiter share: the wait's state, its scope, and the cancel.
  class wait_base : public cancellable {
   public:
    explicit wait_base(cross_channel& c) noexcept : c_(&c) {}
    wait_base(wait_base&& o) noexcept : cancellable(), c_(o.c_) {}  // only before it waits
    wait_base& operator=(wait_base&&) = delete;
    ~wait_base() {
      if (scope_) scope_->leave(this);
      if (!state_) return;
      state_->alive_ = false;  // a wake already posted to this loop resumes nobody
      std::lock_guard lock(c_->mutex_);
      if (state_->queued_) c_->unqueue(*queue_, state_);
      else if (queue_ == &c_->receivers_ && state_->value_) c_->give_back(std::move(*state_->value_));
    }

    // Ends the wait with `reason` unless a wake got there first. On the waiter's loop thread.
    void cancel(std::error_code reason) noexcept override {
      std::lock_guard lock(c_->mutex_);
      if (!state_ || !state_->queued_) return;
      c_->unqueue(*queue_, state_);
      state_->outcome_ = reason;
      state_->loop_->schedule(state_->who_);
    }
    wait_info describe() const noexcept override {
      return {queue_ == &c_->receivers_ ? "cross_channel receive" : "cross_channel send"};
    }

   protected:
    // Joins q as w; the caller holds the mutex and returns true from suspend_with next.
    wait_state& enqueue(wait_queue& q, waiter w, cancel_scope* scope) {
      state_ = std::make_shared<wait_state>();
      state_->who_ = w;
      state_->loop_ = event_loop::current();
      state_->queued_ = true;
      q.push_back(state_);
      queue_ = &q;
      scope_ = scope;
      if (scope) scope->enter(this);
      return *state_;
    }
    // For await_resume: leaves the scope; returns the error the wait ended with.
    std::error_code finish() noexcept {
      if (scope_) scope_->leave(this);
      scope_ = nullptr;
      return state_ ? state_->outcome_ : outcome_;
    }

    cross_channel* c_;
    state_ptr state_;               // set once the wait suspends
    std::error_code outcome_;       // the error of a wait that ended without suspending
    wait_queue* queue_ = nullptr;
    cancel_scope* scope_ = nullptr;
  };

 public:
  // A channel holding up to `capacity` items (at least 1).
  explicit cross_channel(std::size_t capacity) : capacity_(capacity ? capacity : 1) {}
  cross_channel(const cross_channel&) = delete;
  cross_channel& operator=(const cross_channel&) = delete;

  class [[nodiscard]] send_awaiter : public waiter_awaitable<send_awaiter>, public wait_base {
   public:
    send_awaiter(cross_channel& c, T value) : wait_base(c), value_(std::move(value)) {}
    send_awaiter(send_awaiter&& o) noexcept(std::is_nothrow_move_constructible_v<T>)
        : waiter_awaitable<send_awaiter>(), wait_base(std::move(o)), value_(std::move(o.value_)) {}

    // Returns false when the outcome is ready now, true when w is queued to be woken.
    bool suspend_with(waiter w, cancel_scope* scope) {
      if (auto ec = already_cancelled(scope)) return (this->outcome_ = ec, false);
      cross_channel& c = *this->c_;
      std::lock_guard lock(c.mutex_);
      if (c.closed_) return (this->outcome_ = channel_closed(), false);
      if (!c.receivers_.empty() || c.items_.size() < c.capacity_) {
        c.deliver(std::move(*value_));
        return false;
      }
      this->enqueue(c.senders_, w, scope).value_ = std::move(value_);
      return true;
    }
    // Success once the item is in the channel; channel_closed() (or the scope's reason) otherwise.
    result<void> await_resume() noexcept { return this->finish(); }

   private:
    std::optional<T> value_;
  };

  class [[nodiscard]] receive_awaiter : public waiter_awaitable<receive_awaiter>, public wait_base {
   public:
    explicit receive_awaiter(cross_channel& c) noexcept : wait_base(c) {}
    receive_awaiter(receive_awaiter&& o) noexcept : waiter_awaitable<receive_awaiter>(), wait_base(std::move(o)) {}

    // Returns false when the outcome is ready now, true when w is queued to be woken.
    bool suspend_with(waiter w, cancel_scope* scope) {
      if (auto ec = already_cancelled(scope)) return (this->outcome_ = ec, false);
      cross_channel& c = *this->c_;
      std::lock_guard lock(c.mutex_);
      if (c.take(value_)) return false;
      if (c.closed_) return (this->outcome_ = channel_closed(), false);
      this->enqueue(c.receivers_, w, scope);
      return true;
    }
    // The next item; channel_closed() once closed and drained, or the scope's reason.
    result<T> await_resume() {
      if (auto ec = this->finish()) return ec;
      // The waker wrote the state under the mutex before waking us; nobody touches it now.
      std::optional<T>& v = this->state_ ? this->state_->value_ : value_;
      result<T> out(std::move(*v));
      v.reset();  // consumed: the destructor has nothing to give back
      return out;
    }

   private:
    std::optional<T> value_;
  };

  // The awaitable that puts value in the channel, waiting while it is full.
  send_awaiter send(T value) { return send_awaiter(*this, std::move(value)); }
  // The awaitable that takes the next item, waiting while the channel is empty.
  receive_awaiter receive() noexcept { return receive_awaiter(*this); }

  // Puts value in without waiting, from any thread; returns false (value untouched) when full
  // or closed.
  bool try_send(T& value) {
    std::lock_guard lock(mutex_);
    if (closed_ || (receivers_.empty() && items_.size() >= capacity_)) return false;
    deliver(std::move(value));
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
        state_ptr s = pop(*q);
        s->outcome_ = channel_closed();
        wake(std::move(s));
      }
    }
  }
  // True once close() was called.
  bool closed() const {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  // Resumes s's owner on its own loop; the caller holds mutex_. The owner's loop is alive: an
  // awaiter whose state is queued is alive too, and its destructor waits for mutex_.
  static void wake(state_ptr s) {
    event_loop* loop = s->loop_;
    if (loop == event_loop::current()) {
      loop->schedule(s->who_);
    } else {
      loop->post([s = std::move(s)] {
        if (s->alive_) s->who_.resume();
      });
    }
  }
  static state_ptr pop(wait_queue& q) {
    state_ptr s = std::move(q.front());
    q.pop_front();
    s->queued_ = false;
    return s;
  }
  static void unqueue(wait_queue& q, const state_ptr& s) {
    for (auto it = q.begin(); it != q.end(); ++it) {
      if (*it == s) {
        q.erase(it);
        break;
      }
    }
    s->queued_ = false;
  }
  // Hands item to the first waiting receiver, or buffers it (the caller checked for room).
  void deliver(T&& item) {
    if (receivers_.empty()) {
      items_.push_back(std::move(item));
      return;
    }
    // A receiver waits only on an empty buffer: hand the item straight over.
    state_ptr r = pop(receivers_);
    r->value_.emplace(std::move(item));
    wake(std::move(r));
  }
  // Takes back an item handed to a receiver that died before it ran: it is still the oldest.
  void give_back(T&& item) {
    if (!receivers_.empty()) return deliver(std::move(item));
    items_.push_front(std::move(item));
  }
  // Moves the first item into out and refills from waiting senders; returns false when empty.
  bool take(std::optional<T>& out) {
    if (items_.empty()) return false;
    out.emplace(std::move(items_.front()));
    items_.pop_front();
    // `while`, not `if`: an item given back may have left the buffer above capacity.
    while (!senders_.empty() && items_.size() < capacity_) {
      state_ptr s = pop(senders_);
      items_.push_back(std::move(*s->value_));
      s->value_.reset();
      wake(std::move(s));
    }
    return true;
  }

  mutable std::mutex mutex_;
  std::size_t capacity_;
  std::deque<T> items_;
  wait_queue senders_;
  wait_queue receivers_;
  bool closed_ = false;
};

}  // namespace c10k
