#include "client_conn.hpp"

#include <openssl/ssl.h>

#include <memory>
#include <stdexcept>

namespace c10k::stress {

std::string client_hello() {
  // One context for the process (it only ever makes ClientHellos); each hello is fresh (its
  // random and key share), as a real client's would be.
  static const std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx = [] {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> c(SSL_CTX_new(TLS_client_method()), &SSL_CTX_free);
    if (!c) throw std::runtime_error("SSL_CTX_new");
    static constexpr unsigned char alpn[] = "\x08http/1.1";
    SSL_CTX_set_alpn_protos(c.get(), alpn, sizeof alpn - 1);
    return c;
  }();
  std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), &SSL_free);
  if (!ssl) throw std::runtime_error("SSL_new");
  BIO* in = BIO_new(BIO_s_mem());
  BIO* out = BIO_new(BIO_s_mem());
  SSL_set_bio(ssl.get(), in, out);  // the SSL owns both
  SSL_set_tlsext_host_name(ssl.get(), "localhost");
  SSL_set_connect_state(ssl.get());
  (void)SSL_do_handshake(ssl.get());  // writes the ClientHello, then wants the server's answer
  char* data = nullptr;
  const long n = BIO_get_mem_data(out, &data);
  if (n <= 0) throw std::runtime_error("no ClientHello");
  return std::string(data, static_cast<std::size_t>(n));
}

}  // namespace c10k::stress
