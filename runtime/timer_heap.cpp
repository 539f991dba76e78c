#include "c10k/detail/timer_heap.hpp"

namespace c10k {

void timer_heap::push(timer_entry& t) {
  heap_.push_back(&t);
  t.index_ = heap_.size() - 1;
  sift_up(t.index_);
}

void timer_heap::remove(timer_entry& t) noexcept {
  if (!t.queued()) return;
  const std::size_t i = t.index_;
  timer_entry* last = heap_.back();
  heap_.pop_back();
  t.index_ = timer_entry::npos;
  if (last == &t) return;
  place(i, last);
  sift_up(i);
  sift_down(last->index_);
}

timer_entry* timer_heap::pop_due(clock::time_point now) noexcept {
  if (heap_.empty() || heap_.front()->deadline > now) return nullptr;
  timer_entry* t = heap_.front();
  remove(*t);
  return t;
}

void timer_heap::sift_up(std::size_t i) noexcept {
  timer_entry* t = heap_[i];
  while (i > 0) {
    const std::size_t parent = (i - 1) / 2;
    if (heap_[parent]->deadline <= t->deadline) break;
    place(i, heap_[parent]);
    i = parent;
  }
  place(i, t);
}

void timer_heap::sift_down(std::size_t i) noexcept {
  timer_entry* t = heap_[i];
  const std::size_t n = heap_.size();
  for (;;) {
    std::size_t child = 2 * i + 1;
    if (child >= n) break;
    if (child + 1 < n && heap_[child + 1]->deadline < heap_[child]->deadline) ++child;
    if (t->deadline <= heap_[child]->deadline) break;
    place(i, heap_[child]);
    i = child;
  }
  place(i, t);
}

}  // namespace c10k
