// buffer_pool: fixed-size receive buffers lent by id, allocated on demand and reused.
//
// Readiness backends lend one only after the socket reported data, so a connection that
// waits holds none; the pool grows to the peak number of buffers lent at once.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

namespace c10k {

class buffer_pool {
 public:
  explicit buffer_pool(std::size_t buffer_bytes) noexcept : bytes_(buffer_bytes) {}

  // Lends a buffer; returns its id (allocating one when none is free).
  std::uint32_t acquire() {
    if (free_.empty()) {
      blocks_.push_back(std::make_unique_for_overwrite<char[]>(bytes_));
      return static_cast<std::uint32_t>(blocks_.size() - 1);
    }
    std::uint32_t id = free_.back();
    free_.pop_back();
    return id;
  }
  // Takes buffer id back.
  void release(std::uint32_t id) { free_.push_back(id); }
  char* data(std::uint32_t id) const noexcept { return blocks_[id].get(); }
  std::size_t buffer_bytes() const noexcept { return bytes_; }

 private:
  std::size_t bytes_;
  std::vector<std::unique_ptr<char[]>> blocks_;
  std::vector<std::uint32_t> free_;
};

}  // namespace c10k
