// tls::stream: one TLS session over a connected tcp_stream, driven by the loop's own I/O.
//
// OpenSSL never touches the socket: its records go through memory on both sides (a BIO of
// c10k's own). Ciphertext arrives by the loop's receive, in the buffer the backend lends (on
// io_uring, the provided-buffer ring: no extra wait, no extra syscall), and leaves by the loop's
// writes, batched like plain responses. So a TLS connection keeps io_uring's batching and every
// backend works the same; a socket BIO would make OpenSSL call read(2)/write(2) itself, one
// syscall per record and outside the ring. The cost is one copy of the ciphertext into
// OpenSSL's record buffer, which a socket BIO pays too (read(2) copies).
//
// Kernel TLS: after a server handshake, with server_config::ktls, the stream asks the kernel
// for the "tls" upper-layer protocol once per process. Where the kernel has no tls module
// (TCP_ULP "tls" refused), it logs that once and records stay in user space. Handing the
// traffic keys to the kernel is not implemented: see docs/ARCHITECTURE.md.
#pragma once

#include <sys/uio.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "c10k/recv_buffer.hpp"
#include "c10k/result.hpp"
#include "c10k/task.hpp"
#include "c10k/tcp_stream.hpp"
#include "c10k/tls/context.hpp"

namespace c10k::tls {

namespace detail {
struct session;
}

class stream {
 public:
  stream() noexcept;
  stream(stream&&) noexcept;
  stream& operator=(stream&&) noexcept;
  ~stream();

  // The server side of a session over `socket` (which must outlive the stream); returns
  // bad_configuration when OpenSSL cannot make one (out of memory).
  static result<stream> accept(const context& ctx, tcp_stream& socket);
  // The client side, for `host` (its name is sent as SNI and checked against the
  // certificate; an IP address is checked as one); a session kept for host:port is offered
  // for resumption.
  static result<stream> connect(const context& ctx, tcp_stream& socket, std::string_view host, std::uint16_t port);

  // co_await: runs the handshake; returns not_tls or plain_http (server: the first bytes
  // were not TLS; nothing was sent then),
  // handshake_failed, certificate_rejected, connection_aborted (the peer left), or the
  // socket's error. Bound it with with_timeout or a scope: it waits on the peer.
  task<result<void>> handshake();
  // co_await: the next plaintext bytes, in a buffer of the loop thread's that stays valid
  // until the caller next suspends (copy them first); empty at the end of the stream (the
  // peer's close_notify, or its close without one: see truncated()); or the error.
  task<result<recv_buffer>> receive();
  // co_await: plaintext bytes read into buf (0 at the end of the stream), or the error.
  task<result<std::size_t>> read(std::span<char> buf);
  // co_await: encrypts and sends every byte of iov; returns the error that ended it.
  task<result<void>> write_all(std::span<const iovec> iov);
  // co_await: sends close_notify (what is queued first); returns the socket's error.
  task<result<void>> shutdown();

  // Encrypts iov into the output queue and returns all the ciphertext queued (the caller
  // writes it, then calls output_sent()); protocol_error when the session failed before.
  result<std::span<const char>> seal(std::span<const iovec> iov);
  // Forgets the queued ciphertext, which the caller has written.
  void output_sent() noexcept;
  // Forgets it after the caller's write failed or was cancelled: a record may have been cut,
  // so the session sends nothing more (not even close_notify) and reads fail.
  void output_failed() noexcept;

  // The ALPN protocol agreed ("" for none).
  std::string_view alpn() const noexcept;
  // True when the handshake resumed an earlier session (a ticket or a session id).
  bool resumed() const noexcept;
  // "TLSv1.3", "TLSv1.2", ...
  std::string_view version() const noexcept;
  // The name the client asked for (server side; "" when it sent no SNI).
  std::string_view server_name() const noexcept;
  // True when the peer closed the socket without close_notify (a truncation attack, or a
  // careless peer): a body that ends with the connection is then not known to be whole.
  bool truncated() const noexcept;
  // What OpenSSL said about the last failure (a reason, or the certificate check's verdict).
  std::string_view error_detail() const noexcept;
  explicit operator bool() const noexcept { return s_ != nullptr; }

 private:
  explicit stream(std::unique_ptr<detail::session> s) noexcept;
  std::unique_ptr<detail::session> s_;
};

}  // namespace c10k::tls
