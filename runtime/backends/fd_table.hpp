// Tables indexed by fd, as every backend keeps them (private to the backends).
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <vector>

namespace c10k {

// A table indexed by fd that grows a chunk at a time. Entries never move, and growing leaves
// no freed copy of the table behind: a vector grown step by step to 10,000 connections leaves
// its old copies in the allocator, resident, several times the table's own size. Only chunks
// that hold an fd are made (and touched).
template <typename T>
class fd_table {
 public:
  static constexpr std::size_t chunk = 1024;

  explicit fd_table(const T& fill = T{}) : fill_(fill) {}

  // The entry of fd, or nullptr when its chunk was never made.
  T* find(int fd) noexcept {
    if (fd < 0) return nullptr;
    const auto i = static_cast<std::size_t>(fd);
    if (i / chunk >= chunks_.size() || !chunks_[i / chunk]) return nullptr;
    return &chunks_[i / chunk][i % chunk];
  }
  const T* find(int fd) const noexcept { return const_cast<fd_table*>(this)->find(fd); }
  // The entry of fd, its chunk made first (every entry set to the fill value) if needed.
  T& make_room(int fd) {
    const auto i = static_cast<std::size_t>(fd);
    if (i / chunk >= chunks_.size()) chunks_.resize(i / chunk + 1);
    std::unique_ptr<T[]>& c = chunks_[i / chunk];
    if (!c) {
      c = std::make_unique<T[]>(chunk);
      std::fill_n(c.get(), chunk, fill_);
    }
    return c[i % chunk];
  }
  // The entry of fd, which make_room made before.
  T& operator[](int fd) noexcept {
    const auto i = static_cast<std::size_t>(fd);
    return chunks_[i / chunk][i % chunk];
  }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  T fill_;
};

}  // namespace c10k
