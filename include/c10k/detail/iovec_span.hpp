// Helpers for a span of iovecs that a partial writev or send went part of the way through.
#pragma once

#include <sys/uio.h>

#include <span>

namespace c10k {

// Drops the first n bytes from iov: vectors written in full go, the one written in part is
// trimmed. Returns what is left to write (empty when all was written).
inline std::span<iovec> advance(std::span<iovec> iov, std::size_t n) noexcept {
  while (!iov.empty() && n >= iov.front().iov_len) {
    n -= iov.front().iov_len;
    iov = iov.subspan(1);
  }
  if (!iov.empty() && n > 0) {
    iov.front().iov_base = static_cast<char*>(iov.front().iov_base) + n;
    iov.front().iov_len -= n;
  }
  return iov;
}

}  // namespace c10k
