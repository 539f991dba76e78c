#include "buffers.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstdlib>

namespace c10k::uring {
namespace {

constexpr unsigned default_ring_buffers = 512;  // per loop; C10K_IO_URING_BUFFERS overrides
constexpr std::size_t buffer_bytes = backend::receive_buffer_bytes;

}  // namespace

provided_buffers::~provided_buffers() {
  if (buffers_) ::munmap(buffers_, std::size_t(count_) * buffer_bytes);
  if (buf_ring_) ::munmap(buf_ring_, ring_bytes());
}

std::size_t provided_buffers::ring_bytes() const noexcept {
  const std::size_t page = 4096;
  return (std::size_t(count_) * sizeof(io_uring_buf) + page - 1) / page * page;
}

void provided_buffers::setup() {
  count_ = default_ring_buffers;
  if (const char* n = std::getenv("C10K_IO_URING_BUFFERS")) {
    const int v = std::atoi(n);
    if (v > 0 && v <= 32768 && (v & (v - 1)) == 0) count_ = static_cast<unsigned>(v);
  }
  void* ring_mem = ::mmap(nullptr, ring_bytes(), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  // Buffers are mapped, not allocated: only pages the kernel has written become resident.
  void* buf_mem = ::mmap(nullptr, std::size_t(count_) * buffer_bytes, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (ring_mem == MAP_FAILED || buf_mem == MAP_FAILED) {
    if (ring_mem != MAP_FAILED) ::munmap(ring_mem, ring_bytes());
    if (buf_mem != MAP_FAILED) ::munmap(buf_mem, std::size_t(count_) * buffer_bytes);
    return;
  }
  auto* br = static_cast<io_uring_buf_ring*>(ring_mem);
  io_uring_buf_ring_init(br);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<std::uint64_t>(br);
  reg.ring_entries = count_;
  reg.bgid = buffer_group;
  if (io_uring_register_buf_ring(core_.ring_.raw(), &reg, 0) != 0) {
    ::munmap(ring_mem, ring_bytes());
    ::munmap(buf_mem, std::size_t(count_) * buffer_bytes);
    return;
  }
  buf_ring_ = br;
  buffers_ = static_cast<char*>(buf_mem);
  const int mask = io_uring_buf_ring_mask(count_);
  for (unsigned i = 0; i < count_; ++i)
    io_uring_buf_ring_add(br, buffers_ + std::size_t(i) * buffer_bytes, buffer_bytes, static_cast<unsigned short>(i),
                          mask, static_cast<int>(i));
  io_uring_buf_ring_advance(br, static_cast<int>(count_));
}

void provided_buffers::lend(std::uint32_t id, operation* op, int res) noexcept {
  ++core_.counters_.buffers_in_use;
  if (!op || res <= 0) {
    give_back(id);  // nobody to hand it to, or nothing in it
  } else {
    op->buffer_id = id;
    op->buf = buffers_ + std::size_t(id) * buffer_bytes;
  }
}

void provided_buffers::give_back(std::uint32_t id) noexcept {
  --core_.counters_.buffers_in_use;
  io_uring_buf_ring_add(buf_ring_, buffers_ + std::size_t(id) * buffer_bytes, buffer_bytes,
                        static_cast<unsigned short>(id), io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(buf_ring_, 1);
  feed();
}

bool provided_buffers::unpark(operation& op) noexcept {
  for (auto it = starved_.begin(); it != starved_.end(); ++it) {
    if (*it == &op) {
      starved_.erase(it);
      return true;
    }
  }
  return false;
}

void provided_buffers::detach(int fd) noexcept {
  for (std::size_t i = 0; i < starved_.size();) {
    if (starved_[i]->fd == fd) {
      operation* op = starved_[i];
      starved_.erase(starved_.begin() + static_cast<std::ptrdiff_t>(i));
      core_.complete(*op, -ECANCELED);
    } else {
      ++i;
    }
  }
}

void provided_buffers::feed() {
  while (!starved_.empty() && resubmitting_ + core_.counters_.buffers_in_use < count_) {
    operation* op = starved_.front();
    starved_.pop_front();
    core_.submit_op(*op)->resubmit = true;
    ++resubmitting_;
  }
}

}  // namespace c10k::uring
