// tls errors: what a TLS session can fail with, as std::error_code (category "tls").
#pragma once

#include <system_error>

namespace c10k::tls {

enum class errc {
  handshake_failed = 1,   // the peers could not agree (protocol, version, cipher, a bad message)
  certificate_rejected,   // the client refused the server's certificate (untrusted, expired,
                          // another host's): the reason is in stream::error_detail()
  protocol_error,         // a record that did not decrypt or parse, after the handshake
  not_tls,                // the first bytes were not a TLS handshake record
  plain_http,             // ... and looked like an HTTP request (plain HTTP on a TLS port)
  bad_configuration,      // a certificate, key, CA file or option that OpenSSL refused
};

// The category of errc ("tls").
const std::error_category& tls_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept { return {static_cast<int>(e), tls_category()}; }

}  // namespace c10k::tls

template <>
struct std::is_error_code_enum<c10k::tls::errc> : std::true_type {};
