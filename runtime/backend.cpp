// backend: what every backend shares (the factory is in backends/factory.cpp).
#include "c10k/backend.hpp"

#include <unistd.h>

namespace c10k {

void backend::close(int fd) noexcept {
  detach(fd);
  ++counters_.syscalls;
  ::close(fd);
}

}  // namespace c10k
