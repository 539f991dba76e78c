// Tables indexed by fd, as every backend keeps them (private to the backends).
#pragma once

#include <cstddef>
#include <vector>

namespace c10k {

// Grows a table indexed by fd so that it holds fd, new entries set to `fill`. A quarter more
// each time: the entries are written (touched) as they are made, so doubling would keep half
// the table resident for fds that may never come (10,000 connections make it large).
template <typename T>
void make_room(std::vector<T>& table, int fd, const T& fill = T{}) {
  if (static_cast<std::size_t>(fd) >= table.size()) table.resize(static_cast<std::size_t>(fd) + fd / 4 + 64, fill);
}

}  // namespace c10k
