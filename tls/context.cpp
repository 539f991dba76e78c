// The OpenSSL contexts of a tls::context: certificates, versions, ciphers, SNI, ALPN, tickets.
#include "c10k/tls/context.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include <array>
#include <cstring>

#include "c10k/log.hpp"
#include "context_impl.hpp"

namespace c10k::tls {

namespace detail {

context_impl::~context_impl() {
  for (auto& [key, s] : sessions) SSL_SESSION_free(s);
}

void context_impl::keep_session(const std::string& key, SSL_SESSION* s) {
  std::lock_guard lock(sessions_mu);
  auto [it, added] = sessions.try_emplace(key, s);
  if (!added) {
    SSL_SESSION_free(it->second);
    it->second = s;
  }
}

SSL_SESSION* context_impl::session_for(std::string_view key) {
  std::lock_guard lock(sessions_mu);
  auto it = sessions.find(key);
  if (it == sessions.end()) return nullptr;
  SSL_SESSION_up_ref(it->second);
  return it->second;
}

std::string drain_openssl_errors() {
  std::string out;
  while (const unsigned long e = ERR_get_error()) {
    std::array<char, 256> buf;
    ERR_error_string_n(e, buf.data(), buf.size());
    if (!out.empty()) out += "; ";
    out += buf.data();
  }
  return out;
}

int session_key_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

}  // namespace detail

namespace {

using detail::context_impl;
using detail::ctx_ptr;

int version_of(std::string_view v) { return v == "1.3" ? TLS1_3_VERSION : TLS1_2_VERSION; }

// Logs why a configuration failed and returns bad_configuration.
std::error_code refused(std::string_view what) {
  log(log_level::error, "TLS: {}: {}", what, detail::drain_openssl_errors());
  return make_error_code(errc::bad_configuration);
}

// ALPN's wire form: each name prefixed with its length.
std::string alpn_wire(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) {
    if (n.empty() || n.size() > 255) continue;
    out += static_cast<char>(n.size());
    out += n;
  }
  return out;
}

// Server: picks the first of the server's protocols that the client offers; none in common
// (or no ALPN from the client) goes on without ALPN, as nginx does.
int select_alpn(SSL*, const unsigned char** out, unsigned char* out_len, const unsigned char* in, unsigned in_len,
                void* arg) {
  const auto* impl = static_cast<const context_impl*>(arg);
  const std::string& ours = impl->alpn_wire;
  for (std::size_t i = 0; i < ours.size(); i += 1 + static_cast<unsigned char>(ours[i])) {
    const auto len = static_cast<unsigned char>(ours[i]);
    for (unsigned j = 0; j < in_len; j += 1u + in[j]) {
      if (in[j] == len && j + 1 + len <= in_len && std::memcmp(in + j + 1, ours.data() + i + 1, len) == 0) {
        *out = in + j + 1;
        *out_len = len;
        return SSL_TLSEXT_ERR_OK;
      }
    }
  }
  return SSL_TLSEXT_ERR_NOACK;
}

// Server: moves the session to the certificate that names the host the client asked for. A
// name no certificate has gets the default one (the client's check then refuses it).
int select_certificate(SSL* ssl, int*, void* arg) {
  const auto* impl = static_cast<const context_impl*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  if (!name || impl->ctxs.size() < 2) return SSL_TLSEXT_ERR_OK;
  for (const ctx_ptr& c : impl->ctxs) {
    X509* cert = SSL_CTX_get0_certificate(c.p);
    if (cert && X509_check_host(cert, name, 0, 0, nullptr) == 1) {
      if (c.p != SSL_get_SSL_CTX(ssl)) SSL_set_SSL_CTX(ssl, c.p);
      return SSL_TLSEXT_ERR_OK;
    }
  }
  return SSL_TLSEXT_ERR_OK;
}

// Client: keeps each new session (TLS 1.3 tickets arrive after the handshake) for its host.
int on_new_session(SSL* ssl, SSL_SESSION* s) {
  const auto* key = static_cast<const std::string*>(SSL_get_ex_data(ssl, detail::session_key_index()));
  auto* impl = static_cast<context_impl*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  if (!key || !impl) return 0;
  impl->keep_session(*key, s);
  return 1;  // the cache holds the reference OpenSSL gave
}

// Gives every context of `to` the session-ticket keys of `from`, so that a ticket one sealed
// the others open.
void share_ticket_keys(SSL_CTX* from, const std::vector<ctx_ptr>& to) {
  std::array<unsigned char, 80> keys;
  if (SSL_CTX_get_tlsext_ticket_keys(from, keys.data(), keys.size()) != 1) return;
  for (const ctx_ptr& c : to)
    if (c.p != from) SSL_CTX_set_tlsext_ticket_keys(c.p, keys.data(), keys.size());
}

// What every server context shares, whichever certificate it holds.
result<ctx_ptr> server_ctx(context_impl& impl, const certificate_files& files) {
  const server_config& cfg = impl.server_cfg;
  ctx_ptr c(SSL_CTX_new(TLS_server_method()));
  if (!c.p) return refused("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(c.p, version_of(cfg.min_version));
  if (SSL_CTX_set_cipher_list(c.p, cfg.ciphers.c_str()) != 1) return refused("cipher list");
  SSL_CTX_set_options(c.p, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               (cfg.session_tickets ? 0 : SSL_OP_NO_TICKET));
  // Idle sessions give their record buffers back (each is about 34 KB when held).
  SSL_CTX_set_mode(c.p, SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(c.p, files.cert.c_str()) != 1)
    return refused("certificate " + files.cert);
  if (SSL_CTX_use_PrivateKey_file(c.p, files.key.c_str(), SSL_FILETYPE_PEM) != 1) return refused("key " + files.key);
  if (SSL_CTX_check_private_key(c.p) != 1) return refused("key " + files.key + " does not match " + files.cert);
  static constexpr unsigned char id[] = "c10k";
  SSL_CTX_set_session_id_context(c.p, id, sizeof id - 1);
  // Resumption by tickets keeps no state here; a session cache besides them would cost every
  // full handshake an insertion and a periodic sweep (nginx's default too: no cache).
  if (cfg.session_tickets) {
    SSL_CTX_set_session_cache_mode(c.p, SSL_SESS_CACHE_OFF);
  } else {
    SSL_CTX_set_num_tickets(c.p, 0);
    SSL_CTX_set_session_cache_mode(c.p, SSL_SESS_CACHE_SERVER);
  }
  SSL_CTX_set_alpn_select_cb(c.p, select_alpn, &impl);
  SSL_CTX_set_tlsext_servername_callback(c.p, select_certificate);
  SSL_CTX_set_tlsext_servername_arg(c.p, &impl);
  SSL_CTX_set_app_data(c.p, &impl);
  return c;
}

}  // namespace

result<context> context::server(const server_config& config) {
  if (config.certificates.empty()) {
    log(log_level::error, "TLS: a server needs at least one certificate");
    return make_error_code(errc::bad_configuration);
  }
  ERR_clear_error();
  auto impl = std::make_shared<context_impl>();
  impl->server = true;
  impl->server_cfg = config;
  impl->alpn_wire = alpn_wire(config.alpn);
  for (const certificate_files& f : config.certificates) {
    auto c = server_ctx(*impl, f);
    if (!c) return c.error();
    impl->ctxs.push_back(std::move(*c));
  }
  // Tickets are sealed with the keys of the context a session began on (the first): the
  // others share them, so a resumption does not depend on which certificate SNI chose.
  share_ticket_keys(impl->main(), impl->ctxs);
  return context(std::move(impl));
}

result<context> context::client(const client_config& config) {
  ERR_clear_error();
  auto impl = std::make_shared<context_impl>();
  impl->client_cfg = config;
  impl->alpn_wire = alpn_wire(config.alpn);
  ctx_ptr c(SSL_CTX_new(TLS_client_method()));
  if (!c.p) return refused("SSL_CTX_new");
  SSL_CTX_set_min_proto_version(c.p, version_of(config.min_version));
  SSL_CTX_set_mode(c.p, SSL_MODE_RELEASE_BUFFERS);
  if (config.verify) {
    SSL_CTX_set_verify(c.p, SSL_VERIFY_PEER, nullptr);
    const int ok = config.ca_file.empty() ? SSL_CTX_set_default_verify_paths(c.p)
                                          : SSL_CTX_load_verify_locations(c.p, config.ca_file.c_str(), nullptr);
    if (ok != 1) return refused(config.ca_file.empty() ? std::string("the system's CA store") : "CA file " + config.ca_file);
  }
  if (!impl->alpn_wire.empty() &&
      SSL_CTX_set_alpn_protos(c.p, reinterpret_cast<const unsigned char*>(impl->alpn_wire.data()),
                              static_cast<unsigned>(impl->alpn_wire.size())) != 0)
    return refused("ALPN list");
  if (config.session_reuse) {
    SSL_CTX_set_session_cache_mode(c.p, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(c.p, on_new_session);
  }
  SSL_CTX_set_app_data(c.p, impl.get());
  impl->ctxs.push_back(std::move(c));
  return context(std::move(impl));
}

result<context> context::reload() const {
  if (!impl_ || !impl_->server) return make_error_code(errc::bad_configuration);
  auto fresh = server(impl_->server_cfg);
  if (!fresh) return fresh;
  share_ticket_keys(impl_->main(), fresh->impl_->ctxs);
  return fresh;
}

bool context::is_server() const noexcept { return impl_ && impl_->server; }

}  // namespace c10k::tls
