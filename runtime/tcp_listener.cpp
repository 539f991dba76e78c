#include "c10k/tcp_listener.hpp"

#include <unistd.h>

#include <utility>

#include "c10k/time.hpp"

namespace c10k {

result<int> tcp_listener::bind_socket(const address& at, const listen_options& options) {
  int fd = ::socket(at.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return errno_code(errno);
  auto fail = [fd] {
    int err = errno;
    ::close(fd);
    return errno_code(err);
  };
  int one = 1;
  if (::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0) return fail();
  if (options.reuse_port && ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) return fail();
  if (::bind(fd, at.data(), at.size()) < 0) return fail();
  if (::listen(fd, options.backlog) < 0) return fail();
  return fd;
}

result<tcp_listener> tcp_listener::bind(const address& at, const listen_options& options, event_loop& loop) {
  auto fd = bind_socket(at, options);
  if (!fd) return fd.error();
  return adopt(loop, *fd, options);
}

result<tcp_listener> tcp_listener::adopt(event_loop& loop, int fd, const listen_options& options) {
  if (auto r = loop.io().attach(fd); !r) {
    ::close(fd);
    return r.error();
  }
  return tcp_listener(loop, fd, options.accept_limit);
}

tcp_listener::tcp_listener(tcp_listener&& o) noexcept
    : loop_(o.loop_), fd_(std::exchange(o.fd_, -1)), accept_limit_(o.accept_limit_), accepted_in_burst_(o.accepted_in_burst_) {}

tcp_listener& tcp_listener::operator=(tcp_listener&& o) noexcept {
  if (this != &o) {
    close();
    loop_ = o.loop_;
    fd_ = std::exchange(o.fd_, -1);
    accept_limit_ = o.accept_limit_;
    accepted_in_burst_ = o.accepted_in_burst_;
  }
  return *this;
}

task<result<tcp_stream>> tcp_listener::accept() {
  if (fd_ < 0) co_return std::errc::bad_file_descriptor;
  if (accept_limit_ != 0 && accepted_in_burst_ >= accept_limit_) {
    // The burst is used up: let the loop serve the I/O that is waiting before accepting more,
    // whatever the backend (an edge-triggered one would not report this listener again).
    accepted_in_burst_ = 0;
    co_await yield{};
    if (fd_ < 0) co_return std::errc::operation_canceled;
  }
  operation o;
  o.kind = op_kind::accept;
  o.fd = fd_;
  io_awaiter accepting(*loop_, o);
  auto fd = co_await accepting;
  if (!fd) co_return fd.error();
  accepted_in_burst_ = accepting.waited() ? 1 : accepted_in_burst_ + 1;
  co_return tcp_stream::adopt(*loop_, static_cast<int>(*fd));
}

address tcp_listener::local_address() const {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (::getsockname(fd_, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return {};
  return address::from(reinterpret_cast<sockaddr*>(&ss), len);
}

void tcp_listener::close() noexcept {
  if (fd_ < 0) return;
  // Not the backend's close(), which may be asynchronous: a closed listener must refuse
  // connections as soon as close() returns.
  loop_->io().detach(fd_);
  ::close(std::exchange(fd_, -1));
}

}  // namespace c10k
