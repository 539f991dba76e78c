// One connection of the stress load: a tcp_stream, and over it a TLS session when the load
// speaks TLS (tls::stream, the library the server uses too), so that every session kind reads
// and writes plaintext the same way on either.
#pragma once

#include <sys/uio.h>

#include <span>
#include <string>
#include <string_view>

#include "c10k/task.hpp"
#include "c10k/tcp_stream.hpp"
#include "c10k/tls/stream.hpp"

namespace c10k::stress {

class client_conn {
 public:
  explicit client_conn(tcp_stream s) noexcept : socket_(std::move(s)) {}
  client_conn(const client_conn&) = delete;  // the TLS session points at socket_

  // co_await: the client's TLS handshake for "localhost" (verified by ctx); returns its error.
  task<result<void>> start_tls(const tls::context& ctx, std::uint16_t port) {
    auto made = tls::stream::connect(ctx, socket_, "localhost", port);
    if (!made) co_return made.error();
    tls_ = std::move(*made);
    co_return co_await tls_.handshake();
  }

  // co_await: plaintext bytes read into buf (0 at the end of the stream), or the error.
  task<result<std::size_t>> read(std::span<char> buf) {
    if (tls_) co_return co_await tls_.read(buf);
    co_return co_await socket_.read(buf);
  }

  // co_await: sends all of data (sealed into records on TLS); returns the error that ended it.
  task<result<void>> write_all(std::string_view data) {
    if (tls_) {
      const iovec v{const_cast<char*>(data.data()), data.size()};
      co_return co_await tls_.write_all(std::span<const iovec>(&v, 1));
    }
    auto n = co_await socket_.write_all(data);
    if (!n) co_return n.error();
    co_return result<void>{};
  }

  // co_await: TLS close_notify (bounded by the caller); nothing on a plain connection.
  task<result<void>> close_notify() {
    if (tls_) co_return co_await tls_.shutdown();
    co_return result<void>{};
  }

  bool secure() const noexcept { return static_cast<bool>(tls_); }
  tcp_stream& socket() noexcept { return socket_; }

 private:
  tcp_stream socket_;
  tls::stream tls_;
};

// A fresh TLS ClientHello (TLS 1.2-1.3, SNI "localhost", ALPN http/1.1) as the bytes a client
// sends first: for the sessions that stall, cut or garble a handshake on purpose.
std::string client_hello();

}  // namespace c10k::stress
