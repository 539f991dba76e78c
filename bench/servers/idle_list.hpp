// idle_list: a reactor's connections, least recently active first, for the idle timeout.
//
// Intrusive and doubly linked, so marking a connection active is a few pointer writes and
// finding the connections idle too long means looking only at the front: no timer per
// connection and no scan of all of them. It also lists every open connection, which is how a
// loop finds them to close when it stops.
#pragma once

#include <cstdint>

namespace c10k::baseline {

// T must have members `T* idle_prev_`, `T* idle_next_` and `std::int64_t idle_since_`.
template <class T>
class idle_list {
 public:
  // Appends c (not in the list) as the most recently active, active at `now`.
  void push_back(T* c, std::int64_t now) noexcept {
    c->idle_since_ = now;
    c->idle_prev_ = tail_;
    c->idle_next_ = nullptr;
    if (tail_) tail_->idle_next_ = c;
    else head_ = c;
    tail_ = c;
  }

  // Unlinks c, which must be in the list.
  void remove(T* c) noexcept {
    if (c->idle_prev_) c->idle_prev_->idle_next_ = c->idle_next_;
    else head_ = c->idle_next_;
    if (c->idle_next_) c->idle_next_->idle_prev_ = c->idle_prev_;
    else tail_ = c->idle_prev_;
    c->idle_prev_ = c->idle_next_ = nullptr;
  }

  // Marks c (in the list) active at `now`: moves it to the back.
  void touch(T* c, std::int64_t now) noexcept {
    c->idle_since_ = now;
    if (c == tail_) return;
    remove(c);
    push_back(c, now);
  }

  // Returns the least recently active connection, or nullptr when the list is empty.
  T* front() const noexcept { return head_; }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
};

}  // namespace c10k::baseline
