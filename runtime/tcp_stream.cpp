#include "c10k/tcp_stream.hpp"

#include "c10k/detail/iovec_span.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

namespace c10k {

result<tcp_stream> tcp_stream::adopt(event_loop& loop, int fd) {
  if (auto r = loop.io().attach(fd); !r) {
    ::close(fd);
    return r.error();
  }
  return tcp_stream(loop, fd);
}

tcp_stream::tcp_stream(tcp_stream&& o) noexcept : loop_(o.loop_), fd_(std::exchange(o.fd_, -1)) {}

tcp_stream& tcp_stream::operator=(tcp_stream&& o) noexcept {
  if (this != &o) {
    close();
    loop_ = o.loop_;
    fd_ = std::exchange(o.fd_, -1);
  }
  return *this;
}

io_awaiter tcp_stream::read(std::span<char> buf) {
  operation o = op(op_kind::read);
  o.buf = buf.data();
  o.len = buf.size();
  return {*loop_, o};
}

receive_awaiter tcp_stream::receive() { return {*loop_, op(op_kind::receive)}; }

io_awaiter tcp_stream::write(std::span<const char> buf) {
  operation o = op(op_kind::write);
  o.buf = const_cast<char*>(buf.data());
  o.len = buf.size();
  return {*loop_, o};
}

io_awaiter tcp_stream::writev(std::span<const iovec> iov) {
  operation o = op(op_kind::writev);
  o.iov = iov.data();
  o.iovcnt = static_cast<int>(std::min<std::size_t>(iov.size(), IOV_MAX));
  return {*loop_, o};
}

io_awaiter tcp_stream::sendfile(int file_fd, off_t offset, std::size_t count) {
  operation o = op(op_kind::sendfile);
  o.file_fd = file_fd;
  o.offset = offset;
  o.len = count;
  return {*loop_, o};
}

task<result<std::size_t>> tcp_stream::write_all(std::string_view buf) {
  std::size_t done = 0;
  while (done < buf.size()) {
    auto n = co_await write(std::span<const char>(buf.data() + done, buf.size() - done));
    if (!n) co_return n.error();
    done += *n;
  }
  co_return done;
}

task<result<std::size_t>> tcp_stream::writev_all(std::span<iovec> iov) {
  std::size_t done = 0;
  while (!iov.empty()) {
    auto n = co_await writev(iov);
    if (!n) co_return n.error();
    done += *n;
    iov = advance(iov, *n);
  }
  co_return done;
}

result<void> tcp_stream::shutdown(int how) noexcept {
  if (::shutdown(fd_, how) < 0) return errno_code(errno);
  return {};
}

void tcp_stream::close() noexcept {
  if (fd_ < 0) return;
  loop_->io().close(std::exchange(fd_, -1));
}

result<void> tcp_stream::set_nodelay(bool on) noexcept {
  int v = on ? 1 : 0;
  if (::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &v, sizeof v) < 0) return errno_code(errno);
  return {};
}

result<void> tcp_stream::set_cork(bool on) noexcept {
  int v = on ? 1 : 0;
  if (::setsockopt(fd_, IPPROTO_TCP, TCP_CORK, &v, sizeof v) < 0) return errno_code(errno);
  return {};
}

result<address> tcp_stream::peer() const {
  sockaddr_storage ss;
  socklen_t len = sizeof ss;
  if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return errno_code(errno);
  return address::from(reinterpret_cast<sockaddr*>(&ss), len);
}

task<result<tcp_stream>> connect(address to) {
  event_loop& loop = *event_loop::current();
  int fd = ::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) co_return errno_code(errno);
  auto s = tcp_stream::adopt(loop, fd);
  if (!s) co_return s.error();
  operation o;
  o.kind = op_kind::connect;
  o.fd = fd;
  o.addr = const_cast<sockaddr*>(to.data());
  o.addrlen = to.size();
  auto r = co_await io_awaiter(loop, o);
  if (!r) co_return r.error();
  co_return std::move(*s);
}

}  // namespace c10k
