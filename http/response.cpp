#include "c10k/http/response.hpp"

#include <fmt/format.h>
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

response response::text(int status, std::string body) {
  response r(status);
  r.set_header("Content-Type", "text/plain; charset=utf-8");
  r.body_ = std::move(body);
  return r;
}

response response::json(int status, std::string body) {
  response r(status);
  r.set_header("Content-Type", "application/json");
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
    case 503: return "Service Unavailable";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

void append_head(std::string& out, const response& r, std::string_view date, bool keep_alive, int version_minor) {
  auto it = std::back_inserter(out);
  fmt::format_to(it, "HTTP/1.1 {} {}\r\nServer: c10k\r\nDate: {}\r\n", r.status(), reason_phrase(r.status()), date);
  // 1xx, 204 and 304 have no content; a Content-Length there would describe something else.
  if (r.status() >= 200 && r.status() != 204 && r.status() != 304) {
    if (!r.stream()) fmt::format_to(it, "Content-Length: {}\r\n", r.content_length());
    else if (version_minor >= 1) out += "Transfer-Encoding: chunked\r\n";
  }
  for (const auto& [name, value] : r.headers()) fmt::format_to(it, "{}: {}\r\n", name, value);
  if (!keep_alive) out += "Connection: close\r\n";
  else if (version_minor == 0) out += "Connection: keep-alive\r\n";
  out += "\r\n";
}

}  // namespace c10k::http
