#include "c10k/address.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace c10k {

address::address() noexcept { std::memset(&storage_, 0, sizeof storage_); }

result<address> address::parse(std::string_view host, std::uint16_t port) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") host = "127.0.0.1";
  if (host.empty() || host == "*") host = "0.0.0.0";
  if (host.size() >= INET6_ADDRSTRLEN) return std::errc::invalid_argument;
  char text[INET6_ADDRSTRLEN] = {};
  std::memcpy(text, host.data(), host.size());

  address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  if (::inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    a.len_ = sizeof(sockaddr_in);
    return a;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&a.storage_);
  if (::inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    a.len_ = sizeof(sockaddr_in6);
    return a;
  }
  return std::errc::invalid_argument;
}

address address::from(const sockaddr* sa, socklen_t len) noexcept {
  address a;
  if (len > sizeof a.storage_) len = sizeof a.storage_;
  std::memcpy(&a.storage_, sa, len);
  a.len_ = len;
  return a;
}

address address::loopback(std::uint16_t port) noexcept {
  address a;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&a.storage_);
  v4->sin_family = AF_INET;
  v4->sin_port = htons(port);
  v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.len_ = sizeof(sockaddr_in);
  return a;
}

std::uint16_t address::port() const noexcept {
  if (storage_.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage_)->sin_port);
  if (storage_.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_port);
  return 0;
}

std::string address::host() const {
  if (storage_.ss_family == AF_INET) {
    // By hand: glibc's inet_ntop formats IPv4 with sprintf, a few thousand instructions that a
    // proxy would pay per request (X-Forwarded-For).
    const auto* b = reinterpret_cast<const unsigned char*>(&reinterpret_cast<const sockaddr_in*>(&storage_)->sin_addr);
    char text[16];
    char* at = text;
    for (int i = 0; i < 4; ++i) {
      if (i) *at++ = '.';
      at = std::to_chars(at, text + sizeof text, b[i]).ptr;
    }
    return std::string(text, at);
  }
  if (storage_.ss_family == AF_INET6) {
    char text[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage_)->sin6_addr, text, sizeof text);
    return text;
  }
  return {};
}

std::string address::to_string() const {
  if (storage_.ss_family != AF_INET && storage_.ss_family != AF_INET6) return "(none)";
  const bool v6 = storage_.ss_family == AF_INET6;
  std::string out = v6 ? "[" + host() + "]:" : host() + ":";
  char num[8];
  out.append(num, std::to_chars(num, num + sizeof num, port()).ptr);
  return out;
}

}  // namespace c10k
