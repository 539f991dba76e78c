// address: an IPv4 or IPv6 socket address, numeric only (name lookup blocks: use a helper thread).
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "c10k/result.hpp"

namespace c10k {

class address {
 public:
  address() noexcept;

  // Parses a numeric IPv4 ("127.0.0.1") or IPv6 ("::1", "[::1]") host, or "localhost",
  // "" and "*" (any IPv4 address); returns errc::invalid_argument for anything else.
  static result<address> parse(std::string_view host, std::uint16_t port);
  // Wraps a sockaddr the kernel filled in (accept, getsockname).
  static address from(const sockaddr* sa, socklen_t len) noexcept;
  // 127.0.0.1:port, the address tests and benchmarks use.
  static address loopback(std::uint16_t port) noexcept;

  std::uint16_t port() const noexcept;
  int family() const noexcept { return storage_.ss_family; }
  // "1.2.3.4:80" or "[::1]:80".
  std::string to_string() const;
  // The host alone, as X-Forwarded-For and logs write it: "1.2.3.4" or "::1" (no brackets);
  // "" for an empty address.
  std::string host() const;

  const sockaddr* data() const noexcept { return reinterpret_cast<const sockaddr*>(&storage_); }
  socklen_t size() const noexcept { return len_; }

 private:
  sockaddr_storage storage_;
  socklen_t len_ = 0;
};

}  // namespace c10k
