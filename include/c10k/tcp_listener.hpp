// tcp_listener: a listening TCP socket on a loop; accept() yields connected tcp_streams.
#pragma once

#include "c10k/address.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/result.hpp"
#include "c10k/task.hpp"
#include "c10k/tcp_stream.hpp"

namespace c10k {

struct listen_options {
  int backlog = 4096;
  // SO_REUSEPORT: one listener per loop on the same port, the kernel spreading connections.
  bool reuse_port = true;
  // How many connections one readiness event may accept before the loop serves other events
  // (the paper's accept limit, section 5.2); 0 is unlimited.
  unsigned accept_limit = 0;
};

class tcp_listener {
 public:
  tcp_listener() noexcept = default;
  // Binds and listens on `at`; returns the listening fd (nonblocking), not yet on any loop,
  // or the error (address_in_use, permission_denied, ...). Port 0 picks a free port.
  static result<int> bind_socket(const address& at, const listen_options& options);
  // Binds, listens, and adopts the socket on `loop`; returns the listener or the error.
  static result<tcp_listener> bind(const address& at, const listen_options& options = {},
                                   event_loop& loop = *event_loop::current());
  // Adopts a listening fd on `loop`; returns the error when the backend cannot watch it.
  static result<tcp_listener> adopt(event_loop& loop, int fd, const listen_options& options);

  tcp_listener(tcp_listener&& o) noexcept;
  tcp_listener& operator=(tcp_listener&& o) noexcept;
  ~tcp_listener() { close(); }

  // Accepts one connection; returns the stream, or the error (operation_canceled after
  // close(); too_many_files_open when the fd table is full, ...).
  task<result<tcp_stream>> accept();

  // The bound address (with the real port when bound to port 0).
  address local_address() const;
  // Stops listening; a pending accept completes with operation_canceled.
  void close() noexcept;
  bool is_open() const noexcept { return fd_ >= 0; }
  int native_handle() const noexcept { return fd_; }

 private:
  tcp_listener(event_loop& loop, int fd, unsigned limit) noexcept : loop_(&loop), fd_(fd), accept_limit_(limit) {}

  event_loop* loop_ = nullptr;
  int fd_ = -1;
  unsigned accept_limit_ = 0;
  unsigned accepted_in_burst_ = 0;  // connections accepted since the last wait for readiness
};

}  // namespace c10k
