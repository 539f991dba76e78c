// The file part of a response, sent by sendfile on a nonblocking socket: the same loop for the
// epoll and io_uring reactors (each then waits for writability in its own way).
#pragma once

#include <sys/sendfile.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>

#include "c10k/http/response.hpp"

namespace c10k::baseline {

enum class send_file_status { done, socket_full, failed };

// Sends what is left of `f` after its first `sent` bytes to `socket`, advancing `sent`;
// returns done when all of it went, socket_full when the socket would block, failed on an
// error or a file that shrank. Adds its system calls to `syscalls`.
inline send_file_status send_file_some(int socket, const http::file_body& f, std::size_t& sent, std::int64_t& syscalls) {
  while (sent < f.length()) {
    off_t at = f.offset() + static_cast<off_t>(sent);
    const std::size_t want = f.length() - sent;
    const ssize_t n = ::sendfile(socket, f.fd(), &at, want);
    ++syscalls;
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      if (static_cast<std::size_t>(n) < want) return send_file_status::socket_full;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return send_file_status::socket_full;
    return send_file_status::failed;
  }
  return send_file_status::done;
}

}  // namespace c10k::baseline
