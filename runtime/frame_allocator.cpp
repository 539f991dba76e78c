#include "c10k/detail/frame_allocator.hpp"

#include <array>
#include <new>

namespace c10k::frame_allocator {
namespace {

constexpr std::size_t class_bytes = 64;
constexpr std::size_t class_count = 32;          // frames up to 2 KiB are recycled
constexpr std::size_t max_cached_per_class = 4096;

struct free_block {
  free_block* next;
};

struct free_lists {
  std::array<free_block*, class_count> head{};
  std::array<std::size_t, class_count> cached{};
  std::size_t recycled = 0;

  ~free_lists() {
    for (auto* b : head) {
      while (b) {
        auto* next = b->next;
        ::operator delete(b);
        b = next;
      }
    }
  }
};

thread_local free_lists lists;

constexpr std::size_t class_of(std::size_t size) noexcept { return (size + class_bytes - 1) / class_bytes - 1; }

}  // namespace

void* allocate(std::size_t size) {
  const std::size_t c = class_of(size);
  if (size == 0 || c >= class_count) return ::operator new(size);
  if (free_block* b = lists.head[c]) {
    lists.head[c] = b->next;
    --lists.cached[c];
    ++lists.recycled;
    return b;
  }
  return ::operator new((c + 1) * class_bytes);
}

void deallocate(void* p, std::size_t size) noexcept {
  const std::size_t c = class_of(size);
  if (size == 0 || c >= class_count || lists.cached[c] >= max_cached_per_class) {
    ::operator delete(p);
    return;
  }
  auto* b = static_cast<free_block*>(p);
  b->next = lists.head[c];
  lists.head[c] = b;
  ++lists.cached[c];
}

std::size_t recycled_count() noexcept { return lists.recycled; }

}  // namespace c10k::frame_allocator
