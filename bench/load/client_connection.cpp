#include "client_connection.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

#include "c10k/io_awaiter.hpp"

namespace c10k::load {

void client_connection::reset_state() noexcept {
  buf_.release();
  rest_ = {};
  reader_ = response_reader{};
}

task<result<void>> client_connection::open(address to, const address* source) {
  close();
  event_loop& loop = *event_loop::current();
  const int fd = ::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) co_return errno_code(errno);
  const int one = 1;
  // Requests are small and latency is what is measured: no Nagle delay.
  (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (source) {
    // Without this, bind(port 0) reserves a port for every (source, any destination) and the
    // source addresses would not multiply the ports available; with it the port is chosen at
    // connect time, unique only per 4-tuple.
    (void)::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    if (::bind(fd, source->data(), source->size()) < 0) {
      const int err = errno;
      ::close(fd);
      co_return errno_code(err);
    }
  }
  auto adopted = tcp_stream::adopt(loop, fd);
  if (!adopted) co_return adopted.error();
  stream_ = std::move(*adopted);
  operation op;
  op.kind = op_kind::connect;
  op.fd = fd;
  op.addr = const_cast<sockaddr*>(to.data());  // `to` lives in this frame until the connect ends
  op.addrlen = to.size();
  auto r = co_await io_awaiter(loop, op);
  if (!r) co_return r.error();
  co_return result<void>{};
}

task<result<void>> client_connection::send(std::string_view bytes) {
  auto r = co_await stream_.write_all(bytes);
  if (!r) co_return r.error();
  co_return result<void>{};
}

task<result<reply>> client_connection::read_reply() {
  for (;;) {
    if (!rest_.empty()) {
      const auto s = reader_.parse(rest_);
      if (s == response_reader::status::complete) co_return reply{reader_.status_code(), reader_.keep_alive()};
      if (s == response_reader::status::error) co_return std::make_error_code(std::errc::bad_message);
    }
    buf_.release();  // everything in it is parsed: give it back before waiting
    auto r = co_await stream_.receive();
    if (!r) co_return r.error();
    if (r->empty()) {
      if (reader_.finish() == response_reader::status::complete) co_return reply{reader_.status_code(), false};
      co_return std::make_error_code(std::errc::connection_reset);
    }
    bytes_ += r->size();
    buf_ = std::move(*r);
    rest_ = buf_.view();
  }
}

task<result<void>> client_connection::wait_close() {
  reset_state();
  for (;;) {
    auto r = co_await stream_.receive();
    if (!r) co_return r.error();
    if (r->empty()) co_return result<void>{};
    bytes_ += r->size();
  }
}

void client_connection::close() noexcept {
  reset_state();
  stream_.close();
}

void client_connection::abort() noexcept {
  reset_state();
  if (!stream_.is_open()) return;
  const linger l{1, 0};
  (void)::setsockopt(stream_.native_handle(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
  stream_.close();
}

}  // namespace c10k::load
