// recv_buffer: bytes a backend received into one of its own buffers, lent until released.
//
// Destroying (or release()-ing) it hands the buffer back: on io_uring straight to the provided
// buffer ring, so the kernel can fill it again. Release it on the loop that received it.
#pragma once

#include <cstdint>
#include <string_view>
#include <utility>

#include "c10k/backend.hpp"

namespace c10k {

class recv_buffer {
 public:
  recv_buffer() noexcept = default;
  recv_buffer(backend* owner, std::uint32_t id, const char* data, std::size_t size) noexcept
      : owner_(owner), id_(id), data_(data), size_(size) {}
  recv_buffer(recv_buffer&& o) noexcept
      : owner_(std::exchange(o.owner_, nullptr)), id_(o.id_), data_(o.data_), size_(std::exchange(o.size_, 0)) {}
  recv_buffer& operator=(recv_buffer&& o) noexcept {
    if (this != &o) {
      release();
      owner_ = std::exchange(o.owner_, nullptr);
      id_ = o.id_;
      data_ = o.data_;
      size_ = std::exchange(o.size_, 0);
    }
    return *this;
  }
  ~recv_buffer() { release(); }

  // The received bytes; empty at end of stream.
  std::string_view view() const noexcept { return {data_, size_}; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  // Gives the buffer back to its backend; the view is gone afterwards.
  void release() noexcept {
    if (owner_) owner_->release_buffer(id_);
    owner_ = nullptr;
    size_ = 0;
  }

 private:
  backend* owner_ = nullptr;
  std::uint32_t id_ = 0;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace c10k
