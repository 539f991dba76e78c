#include <sys/sendfile.h>
#include <unistd.h>

#include <cerrno>

#include "c10k/operation.hpp"

namespace c10k {
namespace {
long long or_errno(long long r) noexcept { return r < 0 ? -errno : r; }
}  // namespace

long long perform(operation& op) noexcept {
  switch (op.kind) {
    case op_kind::read:
    case op_kind::receive:
      return or_errno(::read(op.fd, op.buf, op.len));
    case op_kind::write:
      return or_errno(::write(op.fd, op.buf, op.len));
    case op_kind::writev:
      return or_errno(::writev(op.fd, op.iov, op.iovcnt));
    case op_kind::sendfile:
      return or_errno(::sendfile(op.fd, op.file_fd, &op.offset, op.len));
    case op_kind::accept:
      return or_errno(::accept4(op.fd, op.addr, op.addr ? &op.addrlen : nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
    case op_kind::connect: {
      if (!op.started) {
        op.started = true;
        if (::connect(op.fd, op.addr, op.addrlen) == 0) return 0;
        return errno == EINPROGRESS ? -EAGAIN : -errno;
      }
      int err = 0;
      socklen_t len = sizeof err;
      if (::getsockopt(op.fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return -errno;
      return -err;
    }
  }
  return -EINVAL;
}

}  // namespace c10k
