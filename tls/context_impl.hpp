// context_impl: the OpenSSL contexts behind a tls::context (private to c10k::tls).
#pragma once

#include <openssl/ssl.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "c10k/tls/context.hpp"

namespace c10k::tls::detail {

// Owns one SSL_CTX reference.
struct ctx_ptr {
  SSL_CTX* p = nullptr;
  ctx_ptr() noexcept = default;
  explicit ctx_ptr(SSL_CTX* c) noexcept : p(c) {}
  ctx_ptr(ctx_ptr&& o) noexcept : p(std::exchange(o.p, nullptr)) {}
  ctx_ptr& operator=(ctx_ptr&& o) noexcept {
    std::swap(p, o.p);
    return *this;
  }
  ~ctx_ptr() { SSL_CTX_free(p); }
};

struct context_impl {
  bool server = false;
  server_config server_cfg;
  client_config client_cfg;
  // Server: one SSL_CTX per certificate, the default first; a session starts on the first
  // and moves to another when the client's SNI matches it. Client: one.
  std::vector<ctx_ptr> ctxs;
  std::string alpn_wire;  // the ALPN list in its wire form (length-prefixed names)

  // Client: the last session per "host:port", for resumption; filled by OpenSSL's new-session
  // callback (TLS 1.3 tickets arrive after the handshake), read when a connection starts.
  // Loops of every thread share a client, hence the lock.
  std::mutex sessions_mu;
  std::map<std::string, SSL_SESSION*, std::less<>> sessions;

  ~context_impl();
  SSL_CTX* main() const noexcept { return ctxs.front().p; }
  // Keeps s (one reference taken) as the session to offer for `key`.
  void keep_session(const std::string& key, SSL_SESSION* s);
  // The session to offer for `key` (a reference the caller releases), or nullptr.
  SSL_SESSION* session_for(std::string_view key);
};

// Logs OpenSSL's queued errors after `what` and empties the queue; returns them as one line.
std::string drain_openssl_errors();

// The SSL ex_data index where a session's client cache key lives.
int session_key_index();

}  // namespace c10k::tls::detail
