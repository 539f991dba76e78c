// tls::context: what every TLS session of a server or a client shares: certificates, protocol
// versions, ciphers, ALPN, session tickets and the client's session cache (OpenSSL 3 underneath).
//
// A context is a handle: copies share one set of OpenSSL contexts, and a session keeps the
// context it began with, so replacing a server's context (a certificate reload) leaves the
// sessions already open as they are.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "c10k/result.hpp"
#include "c10k/tls/errors.hpp"

namespace c10k::tls {

// One certificate: a PEM file with the leaf first and then its chain, and its private key.
struct certificate_files {
  std::string cert;
  std::string key;
};

struct server_config {
  // The first certificate answers by default; the others are chosen by the name the client
  // asks for (SNI), matched against each certificate's names (wildcards included).
  std::vector<certificate_files> certificates;
  // ALPN, in the server's order of preference; a client that offers none of them goes on
  // without ALPN (nginx's behaviour), one that offers none at all too.
  std::vector<std::string> alpn{"http/1.1"};
  std::string min_version = "1.2";  // "1.2" or "1.3"
  // TLS 1.2's cipher list (TLS 1.3's suites are OpenSSL's defaults): forward secrecy and AEAD
  // only, Mozilla's "intermediate" list.
  std::string ciphers =
      "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"
      "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305";
  bool session_tickets = true;  // stateless resumption (TLS 1.2 tickets, TLS 1.3 PSK tickets)
  bool ktls = true;             // try kernel TLS after each handshake (see stream.hpp)
};

struct client_config {
  bool verify = true;   // check the server's certificate and name; off only for tests
  std::string ca_file;  // PEM bundle to trust instead of the system store
  std::vector<std::string> alpn{"http/1.1"};
  std::string min_version = "1.2";
  bool session_reuse = true;  // resume sessions per host and port across connections
};

namespace detail {
struct context_impl;
}

class context {
 public:
  context() noexcept = default;
  // A server context; returns bad_configuration (the reason is logged) when a file cannot be
  // read or a key does not match its certificate.
  static result<context> server(const server_config& config);
  // A client context; returns bad_configuration when the CA file cannot be loaded.
  static result<context> client(const client_config& config);
  // The same server configuration read again from its files, keeping the session-ticket keys
  // (a session resumed after a reload still resumes); returns server()'s errors.
  result<context> reload() const;

  explicit operator bool() const noexcept { return impl_ != nullptr; }
  bool is_server() const noexcept;
  const std::shared_ptr<detail::context_impl>& impl() const noexcept { return impl_; }

 private:
  explicit context(std::shared_ptr<detail::context_impl> impl) noexcept : impl_(std::move(impl)) {}
  std::shared_ptr<detail::context_impl> impl_;
};

}  // namespace c10k::tls
