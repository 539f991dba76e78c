// operation: one I/O request handed to a loop's backend, and its outcome.
//
// Everything a backend needs to carry the request out is here in plain fields, so that a
// readiness backend can retry the system call itself and a completion backend can turn it into
// a submission entry. The record lives in the awaiting coroutine's frame (or fiber's stack)
// until the operation completes or is abandoned.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "c10k/waiter.hpp"

namespace c10k {

enum class op_kind : std::uint8_t {
  read,      // read(fd, buf, len)
  write,     // write(fd, buf, len)
  writev,    // writev(fd, iov, iovcnt)
  sendfile,  // sendfile(fd, file_fd, &offset, len)
  accept,    // accept4(fd, addr, &addrlen, SOCK_NONBLOCK | SOCK_CLOEXEC)
  connect,   // connect(fd, addr, addrlen), then SO_ERROR once writable
  receive,   // recv into a buffer the backend lends once data is there (buf, buffer_id out)
};

// The kind's name, as the task dump shows it ("receive", "writev", ...).
constexpr const char* name_of(op_kind k) noexcept {
  switch (k) {
    case op_kind::read: return "read";
    case op_kind::write: return "write";
    case op_kind::writev: return "writev";
    case op_kind::sendfile: return "sendfile";
    case op_kind::accept: return "accept";
    case op_kind::connect: return "connect";
    case op_kind::receive: return "receive";
  }
  return "operation";
}

// True for operations that wait for the fd to become readable (as opposed to writable).
constexpr bool waits_readable(op_kind k) noexcept {
  return k == op_kind::read || k == op_kind::accept || k == op_kind::receive;
}

// 64 bytes: an idle connection keeps one of these for as long as it waits, so the fields of
// kinds that never meet share their words (the unions): what a kind does not use, it must not
// read.
struct operation {
  op_kind kind = op_kind::read;
  bool started = false;         // connect: the connect() call has been made
  bool in_flight = false;       // owned by the backend: between start() and completion
  int fd = -1;
  union {
    void* buf = nullptr;        // read, write; receive: the lent buffer, on completion
    const iovec* iov;           // writev
    sockaddr* addr;             // accept (out), connect (in)
    off_t offset;               // sendfile: advanced as bytes go out
  };
  union {
    std::size_t len = 0;        // read, write, sendfile, receive
    int iovcnt;                 // writev
    socklen_t addrlen;          // accept (in/out), connect (in)
  };
  union {
    int file_fd = -1;           // sendfile
    std::uint32_t buffer_id;    // receive: which lent buffer holds the data
  };

  long long result = 0;         // >= 0 on success, -errno on failure (as io_uring reports)
  waiter who;                   // resumed when the operation completes
  void* backend_data = nullptr; // owned by the backend while in flight (io_uring: its request)
};
static_assert(sizeof(operation) == 64);

// Carries out op's system call once without blocking; returns its result or -errno (-EAGAIN
// when the fd is not ready). Not for receive, which needs a backend's buffers (backend::try_op).
long long perform(operation& op) noexcept;

}  // namespace c10k
