#include "c10k/http/request.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <new>
#include <stdexcept>

namespace c10k::http {

request::request(const request_head& head, std::string_view body) noexcept {
  reset(head);
  body_ = body;
}

void request::reset(const request_head& head) noexcept {
  head_ = &head;
  body_ = {};
  query_ = {};
  body_stream_ = nullptr;
  connection_fd_ = -1;
  peer_cache_ = nullptr;
  params_.clear();  // keeps its capacity
  std::string_view t = head.target;
  // absolute-form: the path starts after the authority.
  if (auto scheme = !t.empty() && t.front() != '/' ? t.find("://") : std::string_view::npos; scheme != std::string_view::npos) {
    auto slash = t.find('/', scheme + 3);
    t = slash == std::string_view::npos ? std::string_view("/") : t.substr(slash);
  }
  if (auto q = t.find('?'); q != std::string_view::npos) {
    query_ = t.substr(q + 1);
    t = t.substr(0, q);
  }
  path_ = t;
}

body_reader& request::body_stream() const {
  if (!body_stream_) throw std::logic_error("body_stream(): this route does not stream its body (route_options::stream_body)");
  return *body_stream_;
}

result<address> request::peer() const {
  // A connection's peer never changes: asked once, kept by the connection (a proxy asks it
  // for every request's X-Forwarded-For).
  if (peer_cache_ && *peer_cache_) return **peer_cache_;
  if (connection_fd_ < 0) return std::errc::not_connected;
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getpeername(connection_fd_, reinterpret_cast<sockaddr*>(&ss), &len) != 0) return errno_code(errno);
  const address a = address::from(reinterpret_cast<const sockaddr*>(&ss), len);
  if (peer_cache_) peer_cache_->reset(new (std::nothrow) address(a));  // no room: asked again next time
  return a;
}

std::string_view request::param(std::string_view name) const noexcept {
  for (const auto& [n, v] : params_)
    if (n == name) return v;
  return {};
}

}  // namespace c10k::http
