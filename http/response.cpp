#include "c10k/http/response.hpp"

#include <charconv>
#include <cstdint>

#include <unistd.h>

namespace c10k::http {

file_body& file_body::operator=(file_body&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    offset_ = o.offset_;
    length_ = o.length_;
  }
  return *this;
}

file_body::~file_body() {
  if (fd_ >= 0) ::close(fd_);
}

bool response::is_content_type(std::string_view name) noexcept {
  constexpr std::string_view want = "content-type";
  for (std::size_t i = 0; i < want.size(); ++i)
    if ((name[i] | 0x20) != want[i]) return false;
  return true;
}

response response::text(int status, std::string body) {
  response r(status);
  r.content_type_ = "text/plain; charset=utf-8";
  r.body_ = std::move(body);
  return r;
}

response response::json(int status, std::string body) {
  response r(status);
  r.content_type_ = "application/json";
  r.body_ = std::move(body);
  return r;
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

namespace {
void append_number(std::string& out, std::uint64_t n) {
  char digits[20];
  const auto end = std::to_chars(digits, digits + sizeof digits, n).ptr;
  out.append(digits, end);
}
}  // namespace

// Plain appends rather than fmt: this runs once per response and was the largest single cost
// of a pipelined /plain request (format-string parsing and a growing back_inserter).
void append_head(std::string& out, const response& r, std::string_view date, bool keep_alive, int version_minor) {
  out += "HTTP/1.1 ";
  append_number(out, static_cast<std::uint64_t>(r.status()));
  out += ' ';
  out += reason_phrase(r.status());
  out += "\r\nServer: c10k\r\nDate: ";
  out += date;
  out += "\r\n";
  // 1xx, 204 and 304 have no content; a Content-Length there would describe something else.
  if (r.status() >= 200 && r.status() != 204 && r.status() != 304) {
    if (!r.stream()) {
      out += "Content-Length: ";
      append_number(out, r.content_length());
      out += "\r\n";
    } else if (version_minor >= 1) {
      out += "Transfer-Encoding: chunked\r\n";
    }
  }
  if (!r.content_type().empty()) {
    out += "Content-Type: ";
    out += r.content_type();
    out += "\r\n";
  }
  for (const auto& [name, value] : r.headers()) {
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  if (!keep_alive) out += "Connection: close\r\n";
  else if (version_minor == 0) out += "Connection: keep-alive\r\n";
  out += "\r\n";
}

}  // namespace c10k::http
