// session: the state behind a tls::stream (private to c10k::tls): the SSL object and the
// ciphertext on its way in and out, which OpenSSL reaches through a BIO of c10k's own.
#pragma once

#include <openssl/ssl.h>

#include <memory>
#include <string>
#include <string_view>

#include "c10k/recv_buffer.hpp"
#include "c10k/tcp_stream.hpp"
#include "context_impl.hpp"

namespace c10k::tls::detail {

struct session {
  session(std::shared_ptr<context_impl> c, tcp_stream& s) noexcept : ctx(std::move(c)), socket(&s) {}
  session(const session&) = delete;
  ~session() {
    // A session freed without a shutdown is marked not resumable (OpenSSL's guard against a
    // truncated exchange); one that ended well stays resumable, with no more I/O (quiet).
    if (ssl && !broken && SSL_is_init_finished(ssl)) {
      SSL_set_quiet_shutdown(ssl, 1);
      (void)SSL_shutdown(ssl);
    }
    SSL_free(ssl);
  }

  // Makes the SSL object and its BIO; returns false when OpenSSL cannot (out of memory).
  bool open(bool as_server);
  // Takes ciphertext the socket received; OpenSSL reads it from the lent buffer itself when
  // nothing older waits (no copy), else after what waits.
  void feed(recv_buffer in);
  // After an SSL call: what OpenSSL left of the lent buffer is kept in `spill` and the buffer
  // goes back to the backend, so a session never holds one across a wait.
  void settle();
  // The ciphertext OpenSSL has not read yet.
  std::size_t unread() const noexcept { return spill.size() - spill_at + in.size(); }
  // Records what failed (OpenSSL's queue, or the certificate verdict) in `detail`.
  std::error_code failed(errc e);

  std::shared_ptr<context_impl> ctx;
  tcp_stream* socket;
  SSL* ssl = nullptr;
  bool server = false;
  bool first_seen = false;  // server: the first bytes came and looked like TLS
  bool eof = false;         // the socket's end was reached
  bool peer_closed = false; // close_notify came
  bool broken = false;      // a fatal error: nothing more goes through
  recv_buffer lent;         // ciphertext lent by the backend, being read
  std::string_view in;      // its unread part
  std::string spill;        // ciphertext kept across waits
  std::size_t spill_at = 0; // read up to here
  std::string out;          // ciphertext to send
  std::string key;          // client: "host:port", the session cache's key
  std::string detail;       // the last failure, in words
};

// The BIO that joins OpenSSL to a session's buffers.
BIO* make_session_bio(session& s);

}  // namespace c10k::tls::detail
