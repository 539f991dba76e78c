#include "c10k/tls/errors.hpp"

#include <string>

namespace c10k::tls {

namespace {

class category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "tls"; }
  std::string message(int e) const override {
    switch (static_cast<errc>(e)) {
      case errc::handshake_failed: return "TLS handshake failed";
      case errc::certificate_rejected: return "TLS certificate rejected";
      case errc::protocol_error: return "TLS protocol error";
      case errc::not_tls: return "not TLS (the first bytes are no TLS record)";
      case errc::plain_http: return "plain HTTP on a TLS port";
      case errc::bad_configuration: return "TLS configuration refused";
    }
    return "TLS error";
  }
};

}  // namespace

const std::error_category& tls_category() noexcept {
  static const category c;
  return c;
}

}  // namespace c10k::tls
