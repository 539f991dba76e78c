#include "connection_work.hpp"
#include "loop_state.hpp"

namespace c10k::http {

// Enough for the bursts one loop serves at once in practice; a spike's extra is freed. Room is
// made up front, so taking one back never allocates (and cannot fail).
constexpr std::size_t max_kept_work = 256;

work_pool::work_pool() { free_.reserve(max_kept_work); }

work_pool::~work_pool() {
  for (connection_work* w : free_) delete w;
}

connection_work* work_pool::acquire() {
  if (free_.empty()) return new connection_work;
  connection_work* w = free_.back();
  free_.pop_back();
  return w;
}

void work_pool::release(connection_work* w) noexcept {
  w->reset();
  if (free_.size() < free_.capacity()) free_.push_back(w);
  else delete w;
}

}  // namespace c10k::http
