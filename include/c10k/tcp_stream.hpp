// tcp_stream: a connected TCP socket on a loop; owns its fd.
#pragma once

#include <sys/uio.h>

#include <span>
#include <string_view>

#include "c10k/address.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/io_awaiter.hpp"
#include "c10k/recv_buffer.hpp"
#include "c10k/result.hpp"
#include "c10k/task.hpp"

namespace c10k {

// co_await stream.receive(): the awaiter; yields result<recv_buffer>.
class [[nodiscard]] receive_awaiter : public waiter_awaitable<receive_awaiter> {
 public:
  receive_awaiter(event_loop& loop, const operation& op) noexcept : io_(loop, op), loop_(&loop) {}
  bool suspend_with(waiter w, cancel_scope* scope) { return io_.suspend_with(w, scope); }
  // The bytes in a lent buffer, an empty buffer at end of stream, or the error.
  result<recv_buffer> await_resume() noexcept {
    auto n = io_.await_resume();
    if (!n) return n.error();
    if (*n == 0) return recv_buffer{};
    const operation& op = io_.op();
    return recv_buffer(&loop_->io(), op.buffer_id, static_cast<const char*>(op.buf), *n);
  }

 private:
  io_awaiter io_;
  event_loop* loop_;
};

class tcp_stream {
 public:
  tcp_stream() noexcept = default;
  // Adopts fd, a connected nonblocking socket, on `loop`; returns the error the backend
  // gave when it cannot watch fd (the fd is closed then).
  static result<tcp_stream> adopt(event_loop& loop, int fd);
  tcp_stream(tcp_stream&& o) noexcept;
  tcp_stream& operator=(tcp_stream&& o) noexcept;
  ~tcp_stream() { close(); }

  // co_await: bytes read into buf (0 at end of stream), or the error.
  io_awaiter read(std::span<char> buf);
  // co_await: the next bytes received, in a buffer the backend lends only once data is there
  // (so a connection waiting here holds no receive buffer); empty at end of stream.
  receive_awaiter receive();
  // co_await: bytes written from buf (at least 1 unless buf is empty), or the error.
  io_awaiter write(std::span<const char> buf);
  // co_await: bytes written from the vectors (possibly fewer than all), or the error.
  io_awaiter writev(std::span<const iovec> iov);
  // co_await: bytes sent from file_fd starting at offset (possibly fewer than count).
  io_awaiter sendfile(int file_fd, off_t offset, std::size_t count);

  // Writes all of buf; returns its size, or the first error.
  task<result<std::size_t>> write_all(std::string_view buf);
  // Writes all the vectors (iov is consumed as it goes); returns the bytes written, or the error.
  task<result<std::size_t>> writev_all(std::span<iovec> iov);

  // Shuts down the sending side (SHUT_WR) or both; returns the error from shutdown(2).
  result<void> shutdown(int how = SHUT_WR) noexcept;
  // Cancels in-flight operations (they complete with operation_canceled) and closes the fd.
  void close() noexcept;
  // Sets TCP_NODELAY; returns the error from setsockopt.
  result<void> set_nodelay(bool on = true) noexcept;
  // Sets TCP_CORK (hold partial segments until uncorked); returns the error from setsockopt.
  result<void> set_cork(bool on) noexcept;
  // The peer's address, or the error from getpeername.
  result<address> peer() const;

  bool is_open() const noexcept { return fd_ >= 0; }
  int native_handle() const noexcept { return fd_; }
  event_loop& loop() const noexcept { return *loop_; }

 private:
  tcp_stream(event_loop& loop, int fd) noexcept : loop_(&loop), fd_(fd) {}
  operation op(op_kind k) const noexcept {
    operation o;
    o.kind = k;
    o.fd = fd_;
    return o;
  }

  event_loop* loop_ = nullptr;
  int fd_ = -1;
};

// Connects to `to` from the current loop; returns the stream, or the error (connection_refused,
// timed_out under with_timeout, ...).
task<result<tcp_stream>> connect(address to);

}  // namespace c10k
