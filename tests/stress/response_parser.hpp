// An incremental HTTP/1.1 response parser for the stress clients: Content-Length and chunked
// bodies, strict enough that a truncated or garbled response cannot pass for a complete one.
#pragma once

#include <cctype>
#include <cstddef>
#include <map>
#include <string>
#include <string_view>

namespace c10k::stress {

struct http_response {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::size_t consumed = 0;  // bytes of the input this response took

  // The header's value, or "".
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

enum class parse_status { incomplete, done, malformed };

namespace detail {
inline bool parse_size(std::string_view s, int base, std::size_t& out) {
  if (s.empty() || s.size() > 12) return false;
  out = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (base == 16 && c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (base == 16 && c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return false;
    out = out * static_cast<std::size_t>(base) + static_cast<std::size_t>(d);
  }
  return true;
}
}  // namespace detail

// Parses one response from the front of `in` (no body when `head_only`); done fills `out`.
inline parse_status parse_response(std::string_view in, http_response& out, bool head_only = false) {
  const auto head_end = in.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return in.size() > 65536 ? parse_status::malformed : parse_status::incomplete;
  const std::string_view head = in.substr(0, head_end);
  if (head.size() < 12 || head.substr(0, 9) != "HTTP/1.1 " || !std::isdigit(static_cast<unsigned char>(head[9])))
    return parse_status::malformed;
  http_response r;
  std::size_t status;
  if (!detail::parse_size(head.substr(9, 3), 10, status)) return parse_status::malformed;
  r.status = static_cast<int>(status);
  std::size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos < head.size()) {
    pos += 2;
    auto next = head.find("\r\n", pos);
    const std::string_view line = head.substr(pos, next == std::string_view::npos ? head.size() - pos : next - pos);
    const auto colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) return parse_status::malformed;
    std::string name(line.substr(0, colon));
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    if (r.headers.count(name)) return parse_status::malformed;  // the server never repeats one
    r.headers.emplace(std::move(name), std::string(value));
    pos = next;
  }
  std::size_t at = head_end + 4;
  const bool no_body = head_only || r.status == 204 || r.status == 304 || r.status / 100 == 1;
  if (!no_body && r.header("transfer-encoding") == "chunked") {
    if (r.headers.count("content-length")) return parse_status::malformed;
    for (;;) {
      const auto eol = in.find("\r\n", at);
      if (eol == std::string_view::npos) return in.size() - at > 32 ? parse_status::malformed : parse_status::incomplete;
      std::size_t size;
      if (!detail::parse_size(in.substr(at, eol - at), 16, size)) return parse_status::malformed;
      const std::size_t data = eol + 2;
      if (in.size() < data + size + 2) return parse_status::incomplete;
      if (in.substr(data + size, 2) != "\r\n") return parse_status::malformed;
      r.body.append(in.substr(data, size));
      at = data + size + 2;
      if (size == 0) break;  // the server sends no trailers
    }
  } else if (!no_body) {
    std::size_t length;
    if (!detail::parse_size(r.header("content-length"), 10, length)) return parse_status::malformed;
    if (in.size() - at < length) return parse_status::incomplete;
    r.body.assign(in.substr(at, length));
    at += length;
  }
  r.consumed = at;
  out = std::move(r);
  return parse_status::done;
}

}  // namespace c10k::stress
