// A TLS session driven by the loop's I/O: OpenSSL works on memory, the stream moves the bytes.
#include "c10k/tls/stream.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sys/socket.h>

#include <algorithm>
#include <atomic>
#include <cstring>

#include "c10k/log.hpp"
#include "session.hpp"

namespace c10k::tls {

namespace detail {

bool session::open(bool as_server) {
  server = as_server;
  ssl = SSL_new(ctx->main());
  if (!ssl) return false;
  BIO* b = make_session_bio(*this);
  if (!b) return false;
  SSL_set_bio(ssl, b, b);  // one BIO both ways; the SSL owns it
  if (server) SSL_set_accept_state(ssl);
  else SSL_set_connect_state(ssl);
  return true;
}

void session::feed(recv_buffer got) {
  settle();
  if (unread() == 0) {
    spill.clear();
    spill_at = 0;
    lent = std::move(got);
    in = lent.view();
  } else {
    spill.append(got.view());
  }
}

void session::settle() {
  if (!in.empty()) spill.append(in);
  in = {};
  lent.release();
}

std::error_code session::failed(errc e) {
  detail = drain_openssl_errors();
  if (!server) {
    const long v = SSL_get_verify_result(ssl);
    if (v != X509_V_OK) {
      detail = X509_verify_cert_error_string(v);
      e = errc::certificate_rejected;
    }
  }
  broken = true;
  return e;
}

}  // namespace detail

namespace {

using detail::session;

// Plaintext read from OpenSSL lands here first, for receive(): one buffer per loop thread,
// since a caller copies what it got before it suspends again.
thread_local char plaintext[16 * 1024];

// Writes all of s.out; returns the socket's error.
task<result<void>> flush_output(session& s) {
  std::size_t at = 0;
  while (at < s.out.size()) {
    auto n = co_await s.socket->write(std::span<const char>(s.out.data() + at, s.out.size() - at));
    if (!n) {
      // A record may have been cut: nothing can follow it on this stream (a later flush would
      // send its first bytes again), not even close_notify.
      s.out.clear();
      s.broken = true;
      co_return n.error();
    }
    at += *n;
  }
  s.out.clear();
  co_return result<void>{};
}

// Waits for more ciphertext, after sending what OpenSSL queued (its answer may be what the
// peer waits for). Returns connection_aborted at the socket's end, or its error.
task<result<void>> receive_ciphertext(session& s) {
  if (!s.out.empty())
    if (auto f = co_await flush_output(s); !f) co_return f;
  auto got = co_await s.socket->receive();
  if (!got) co_return got.error();
  if (got->empty()) {
    s.eof = true;
    co_return std::errc::connection_aborted;
  }
  if (s.server && !s.first_seen) {
    // A TLS connection opens with a handshake record (content type 22); anything else, such
    // as "GET / HTTP/1.1", never reaches OpenSSL, which would answer it with an alert.
    const char first = got->view()[0];
    if (static_cast<unsigned char>(first) != 0x16) {
      const bool http = first >= 'A' && first <= 'Z';  // a method: GET, POST, ...
      s.detail = http ? "a plain HTTP request" : "the first bytes are not a TLS record";
      co_return make_error_code(http ? tls::errc::plain_http : tls::errc::not_tls);
    }
    s.first_seen = true;
  }
  s.feed(std::move(*got));
  co_return result<void>{};
}

// After a read returned a record: reads on into `rest` what is already here (the rest of a
// record, records whole in the received ciphertext), without waiting. One SSL_read yields one
// record, so a peer's many small records (a streamed body's chunks, pipelined requests each
// sealed alone) would otherwise cost the caller a read, and a look at what came so far, each.
// A failure met here is kept (broken) for the next read to return; close_notify likewise.
std::size_t read_buffered(session& s, std::span<char> rest) {
  std::size_t got = 0;
  while (got < rest.size() && (SSL_pending(s.ssl) > 0 || s.unread() > 0)) {
    ERR_clear_error();
    const int n = SSL_read(s.ssl, rest.data() + got, static_cast<int>(std::min<std::size_t>(rest.size() - got, 1 << 30)));
    s.settle();
    if (n > 0) {
      got += static_cast<std::size_t>(n);
      continue;
    }
    switch (SSL_get_error(s.ssl, n)) {
      case SSL_ERROR_WANT_READ: break;  // a record not whole yet
      case SSL_ERROR_ZERO_RETURN: s.peer_closed = true; break;
      default: (void)s.failed(errc::protocol_error); break;
    }
    break;
  }
  return got;
}

// Kernel TLS, once per process: whether the kernel has the tls upper-layer protocol. Where it
// has not (TCP_ULP "tls" refused), records stay in user space, which is said once.
void probe_kernel_tls(int fd) {
  static std::atomic<bool> probed{false};
  if (probed.exchange(true, std::memory_order_relaxed)) return;
  if (::setsockopt(fd, SOL_TCP, TCP_ULP, "tls", sizeof "tls") != 0) {
    log(log_level::info, "kernel TLS unavailable (TCP_ULP \"tls\": {}): TLS records stay in user space",
        std::error_code(errno, std::generic_category()).message());
    return;
  }
  // The socket now has the ULP but no keys, so it still carries what it is given as it is.
  log(log_level::info,
      "kernel TLS is offered by this kernel, but c10k does not hand session keys to it yet: TLS records stay "
      "in user space");
}

}  // namespace

stream::stream() noexcept = default;
stream::stream(std::unique_ptr<detail::session> s) noexcept : s_(std::move(s)) {}
stream::stream(stream&&) noexcept = default;
stream& stream::operator=(stream&&) noexcept = default;
stream::~stream() = default;

result<stream> stream::accept(const context& ctx, tcp_stream& socket) {
  if (!ctx.is_server()) return make_error_code(errc::bad_configuration);
  auto s = std::make_unique<session>(ctx.impl(), socket);
  if (!s->open(true)) return s->failed(errc::bad_configuration);
  return stream(std::move(s));
}

result<stream> stream::connect(const context& ctx, tcp_stream& socket, std::string_view host, std::uint16_t port) {
  if (!ctx || ctx.is_server()) return make_error_code(errc::bad_configuration);
  auto s = std::make_unique<session>(ctx.impl(), socket);
  if (!s->open(false)) return s->failed(errc::bad_configuration);
  const std::string name(host);
  in6_addr ip;
  const bool literal = ::inet_pton(AF_INET, name.c_str(), &ip) == 1 || ::inet_pton(AF_INET6, name.c_str(), &ip) == 1;
  if (!literal) SSL_set_tlsext_host_name(s->ssl, name.c_str());  // SNI carries names only
  if (ctx.impl()->client_cfg.verify) {
    X509_VERIFY_PARAM* p = SSL_get0_param(s->ssl);
    if ((literal ? X509_VERIFY_PARAM_set1_ip_asc(p, name.c_str()) : X509_VERIFY_PARAM_set1_host(p, name.c_str(), 0)) != 1)
      return s->failed(errc::bad_configuration);
  }
  if (ctx.impl()->client_cfg.session_reuse) {
    s->key = name + ':' + std::to_string(port);
    SSL_set_ex_data(s->ssl, detail::session_key_index(), &s->key);
    if (SSL_SESSION* old = ctx.impl()->session_for(s->key)) {
      SSL_set_session(s->ssl, old);
      SSL_SESSION_free(old);
    }
  }
  return stream(std::move(s));
}

task<result<void>> stream::handshake() {
  session& s = *s_;
  for (;;) {
    ERR_clear_error();
    const int r = SSL_do_handshake(s.ssl);
    s.settle();
    if (r == 1) {
      if (auto f = co_await flush_output(s); !f) co_return f;
      if (s.server && s.ctx->server_cfg.ktls) probe_kernel_tls(s.socket->native_handle());
      co_return result<void>{};
    }
    if (SSL_get_error(s.ssl, r) != SSL_ERROR_WANT_READ) {
      const std::error_code e = s.failed(errc::handshake_failed);
      (void)co_await flush_output(s);  // the alert, so the peer knows why
      co_return e;
    }
    if (auto got = co_await receive_ciphertext(s); !got) co_return got;
  }
}

task<result<std::size_t>> stream::read(std::span<char> buf) {
  session& s = *s_;
  for (;;) {
    if (s.broken) co_return make_error_code(errc::protocol_error);
    if (s.peer_closed || buf.empty()) co_return std::size_t{0};
    // No ERR_clear_error() per call (it showed in profiles): every failure drains the queue
    // (session::failed), so it is empty here.
    const int n = SSL_read(s.ssl, buf.data(), static_cast<int>(std::min<std::size_t>(buf.size(), 1 << 30)));
    s.settle();
    if (n > 0) co_return static_cast<std::size_t>(n) + read_buffered(s, buf.subspan(static_cast<std::size_t>(n)));
    switch (SSL_get_error(s.ssl, n)) {
      case SSL_ERROR_ZERO_RETURN:
        s.peer_closed = true;
        co_return std::size_t{0};
      case SSL_ERROR_WANT_READ:
        if (auto got = co_await receive_ciphertext(s); !got) {
          if (got.error() == std::errc::connection_aborted) co_return std::size_t{0};  // see truncated()
          co_return got.error();
        }
        continue;
      default:
        co_return s.failed(errc::protocol_error);
    }
  }
}

task<result<recv_buffer>> stream::receive() {
  auto n = co_await read(std::span<char>(plaintext, sizeof plaintext));
  if (!n) co_return n.error();
  co_return recv_buffer(nullptr, 0, plaintext, *n);
}

result<std::span<const char>> stream::seal(std::span<const iovec> iov) {
  session& s = *s_;
  if (s.broken) return make_error_code(errc::protocol_error);
  // Small pieces (a head, a short body) are gathered into one record rather than one each.
  thread_local char gather[16 * 1024];
  std::size_t used = 0;
  auto put = [&s](const char* p, std::size_t n) {
    while (n > 0) {
      const int chunk = static_cast<int>(std::min<std::size_t>(n, 1 << 30));
      if (SSL_write(s.ssl, p, chunk) != chunk) return false;
      p += chunk;
      n -= static_cast<std::size_t>(chunk);
    }
    return true;
  };
  for (const iovec& v : iov) {
    const char* p = static_cast<const char*>(v.iov_base);
    std::size_t n = v.iov_len;
    if (n >= 4096) {
      if (used > 0 && !put(gather, std::exchange(used, 0))) return s.failed(errc::protocol_error);
      if (!put(p, n)) return s.failed(errc::protocol_error);
      continue;
    }
    while (n > 0) {
      const std::size_t k = std::min(n, sizeof gather - used);
      std::memcpy(gather + used, p, k);
      used += k;
      p += k;
      n -= k;
      if (used == sizeof gather && !put(gather, std::exchange(used, 0))) return s.failed(errc::protocol_error);
    }
  }
  if (used > 0 && !put(gather, used)) return s.failed(errc::protocol_error);
  return std::span<const char>(s.out.data(), s.out.size());
}

void stream::output_failed() noexcept {
  s_->out.clear();
  s_->broken = true;
}

void stream::output_sent() noexcept {
  s_->out.clear();
  if (s_->out.capacity() > 256 * 1024) std::string().swap(s_->out);
}

task<result<void>> stream::write_all(std::span<const iovec> iov) {
  if (auto sealed = seal(iov); !sealed) co_return sealed.error();
  co_return co_await flush_output(*s_);
}

task<result<void>> stream::shutdown() {
  session& s = *s_;
  ERR_clear_error();
  if (!s.broken) (void)SSL_shutdown(s.ssl);  // queues close_notify (after a cut record: nothing)
  ERR_clear_error();
  co_return co_await flush_output(s);
}

std::string_view stream::alpn() const noexcept {
  const unsigned char* p = nullptr;
  unsigned len = 0;
  SSL_get0_alpn_selected(s_->ssl, &p, &len);
  return p ? std::string_view(reinterpret_cast<const char*>(p), len) : std::string_view{};
}

bool stream::resumed() const noexcept { return SSL_session_reused(s_->ssl) == 1; }

std::string_view stream::version() const noexcept { return SSL_get_version(s_->ssl); }

std::string_view stream::server_name() const noexcept {
  const char* n = SSL_get_servername(s_->ssl, TLSEXT_NAMETYPE_host_name);
  return n ? std::string_view(n) : std::string_view{};
}

bool stream::truncated() const noexcept { return s_->eof && !s_->peer_closed; }

std::string_view stream::error_detail() const noexcept { return s_ ? std::string_view(s_->detail) : std::string_view{}; }

}  // namespace c10k::tls
