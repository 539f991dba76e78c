// TLS for tests: a throwaway PKI (a CA and leaf certificates, ECDSA P-256, written as PEM files)
// and a blocking HTTPS test client (OpenSSL on a plain socket), for loopback tests.
#pragma once

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "http_client.hpp"

namespace c10k::testing {

// A CA and the certificates it issues, in a fresh temporary directory removed at the end.
class test_pki {
 public:
  test_pki() {
    char tmpl[] = "/tmp/c10k-pki-XXXXXX";
    if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
    dir_ = tmpl;
    ca_key_ = new_key();
    ca_ = make_cert(ca_key_, nullptr, nullptr, "c10k test CA", {}, 0, 2 * 86400, true);
    write_cert(ca_, dir_ + "/ca.pem");
  }
  test_pki(const test_pki&) = delete;
  ~test_pki() {
    X509_free(ca_);
    EVP_PKEY_free(ca_key_);
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // The CA's certificate file.
  std::string ca_file() const { return dir_ + "/ca.pem"; }
  std::string dir() const { return dir_; }

  // Issues a leaf for `names` (DNS names or IP addresses), valid from `from_s` to `to_s`
  // seconds from now (negative: in the past); writes <base>.pem (leaf, then the CA: a chain)
  // and <base>.key. Returns {cert file, key file}.
  std::pair<std::string, std::string> issue(const std::string& base, const std::vector<std::string>& names,
                                            long from_s = -3600, long to_s = 86400) {
    EVP_PKEY* key = new_key();
    X509* cert = make_cert(key, ca_, ca_key_, names.empty() ? base : names.front(), names, from_s, to_s, false);
    const std::string cert_file = dir_ + "/" + base + ".pem";
    const std::string key_file = dir_ + "/" + base + ".key";
    write_cert(cert, cert_file);
    write_cert(ca_, cert_file, "a");
    FILE* f = std::fopen(key_file.c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    std::fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
    return {cert_file, key_file};
  }

 private:
  static EVP_PKEY* new_key() { return EVP_EC_gen("P-256"); }

  static X509* make_cert(EVP_PKEY* key, X509* issuer, EVP_PKEY* issuer_key, const std::string& cn,
                         const std::vector<std::string>& names, long from_s, long to_s, bool ca) {
    static long serial = 1;
    X509* x = X509_new();
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), from_s);
    X509_gmtime_adj(X509_getm_notAfter(x), to_s);
    X509_set_pubkey(x, key);
    X509_NAME* name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, nullptr, nullptr, 0);
    auto add = [&](int nid, const std::string& value) {
      X509_EXTENSION* e = X509V3_EXT_conf_nid(nullptr, &v3, nid, value.c_str());
      X509_add_ext(x, e, -1);
      X509_EXTENSION_free(e);
    };
    add(NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
    if (ca) add(NID_key_usage, "critical,keyCertSign,cRLSign");
    if (!names.empty()) {
      std::string san;
      for (const std::string& n : names) {
        if (!san.empty()) san += ',';
        const bool ip = n.find_first_not_of("0123456789.:") == std::string::npos;
        san += (ip ? "IP:" : "DNS:") + n;
      }
      add(NID_subject_alt_name, san);
    }
    X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256());
    return x;
  }

  static void write_cert(X509* x, const std::string& file, const char* mode = "w") {
    FILE* f = std::fopen(file.c_str(), mode);
    PEM_write_X509(f, x);
    std::fclose(f);
  }

  std::string dir_;
  EVP_PKEY* ca_key_ = nullptr;
  X509* ca_ = nullptr;
};

// How a test client speaks TLS.
struct tls_client_options {
  std::string ca_file;           // trust this CA (empty: verify nothing)
  std::string server_name;       // SNI and the name checked (empty: none)
  int max_version = 0;           // TLS1_2_VERSION to stay on 1.2; 0: the highest
  std::vector<std::string> alpn{"http/1.1"};
  SSL_SESSION* resume = nullptr;  // a session to offer (not owned)
};

// A blocking HTTPS client: the handshake in the constructor (throws when it fails), then
// http_client's requests and replies through the session.
class tls_http_client : public http_client {
 public:
  tls_http_client(std::uint16_t port, const tls_client_options& o = {}) : http_client(port) {
    ctx_ = SSL_CTX_new(TLS_client_method());
    if (o.max_version) SSL_CTX_set_max_proto_version(ctx_, o.max_version);
    // No internal cache: freeing the context would mark its sessions not resumable.
    SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_OFF);
    if (!o.ca_file.empty()) {
      SSL_CTX_load_verify_locations(ctx_, o.ca_file.c_str(), nullptr);
      SSL_CTX_set_verify(ctx_, SSL_VERIFY_PEER, nullptr);
    }
    std::string wire;
    for (const auto& p : o.alpn) wire += static_cast<char>(p.size()) + p;
    if (!wire.empty()) SSL_CTX_set_alpn_protos(ctx_, reinterpret_cast<const unsigned char*>(wire.data()), wire.size());
    ssl_ = SSL_new(ctx_);
    SSL_set_fd(ssl_, fd());
    if (!o.server_name.empty()) {
      SSL_set_tlsext_host_name(ssl_, o.server_name.c_str());
      if (!o.ca_file.empty()) SSL_set1_host(ssl_, o.server_name.c_str());
    }
    if (o.resume) SSL_set_session(ssl_, o.resume);
    int r;
    do r = SSL_connect(ssl_);
    while (r <= 0 && interrupted(r));
    if (r != 1) {
      std::string why = "TLS handshake failed";
      if (unsigned long e = ERR_get_error()) why += std::string(": ") + ERR_error_string(e, nullptr);
      cleanup();
      throw std::runtime_error(why);
    }
  }
  ~tls_http_client() override { cleanup(); }

  SSL* ssl() const noexcept { return ssl_; }
  std::string alpn() const {
    const unsigned char* p = nullptr;
    unsigned n = 0;
    SSL_get0_alpn_selected(ssl_, &p, &n);
    return p ? std::string(reinterpret_cast<const char*>(p), n) : std::string();
  }
  std::string version() const { return SSL_get_version(ssl_); }
  bool resumed() const { return SSL_session_reused(ssl_) == 1; }
  // The session to resume with later (a reference the caller frees). For TLS 1.3 it exists
  // once a ticket arrived: call it after a first reply was read.
  SSL_SESSION* session() const { return SSL_get1_session(ssl_); }
  // The subject CN of the certificate the server sent.
  std::string peer_cn() const {
    X509* x = SSL_get1_peer_certificate(ssl_);
    if (!x) return "";
    char buf[256] = {};
    X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, sizeof buf);
    X509_free(x);
    return buf;
  }

 protected:
  ssize_t raw_send(const char* p, std::size_t n) override {
    const int r = SSL_write(ssl_, p, static_cast<int>(n));
    if (r > 0) return r;
    if (interrupted(r)) errno = EINTR;  // http_client retries
    return -1;
  }
  ssize_t raw_recv(char* p, std::size_t n) override {
    const int r = SSL_read(ssl_, p, static_cast<int>(n));
    if (r > 0) return r;
    const int e = SSL_get_error(ssl_, r);
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    if (interrupted(r)) {
      errno = EINTR;  // http_client retries
      return -1;
    }
    if (e == SSL_ERROR_SYSCALL && r == 0) return 0;  // closed without close_notify
    if (errno != EAGAIN) errno = EIO;
    return -1;
  }

 private:
  // The socket BIO retries EINTR (io_uring task work in this process interrupts blocking
  // calls) as WANT_READ/WANT_WRITE; EAGAIN there is the 10 s receive timeout instead.
  bool interrupted(int r) const {
    const int e = SSL_get_error(ssl_, r);
    return (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) && errno != EAGAIN && errno != EWOULDBLOCK;
  }

  void cleanup() {
    if (ssl_ && SSL_is_init_finished(ssl_)) {  // (a session freed unshut is not resumable)
      SSL_set_quiet_shutdown(ssl_, 1);
      SSL_shutdown(ssl_);
    }
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    ssl_ = nullptr;
    ctx_ = nullptr;
  }
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

}  // namespace c10k::testing
