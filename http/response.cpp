#include "c10k/http/response.hpp"

#include <array>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <string>

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
// Copies pieces into room made beforehand: one resize per head, then copies the compiler
// inlines, where a += per piece checked the capacity and called memcpy each time.
struct head_cursor {
  char* p;
  void put(std::string_view s) noexcept {
    std::memcpy(p, s.data(), s.size());
    p += s.size();
  }
};

constexpr std::string_view server_date = "\r\nServer: c10k\r\nDate: ";

// "HTTP/1.1 200 OK" CRLF "Server: c10k" CRLF "Date: " for every status with a phrase, made
// once: the start of nearly every head is one copy.
const std::array<std::string, 500>& status_lines() {
  static const std::array<std::string, 500> lines = [] {
    std::array<std::string, 500> t;
    for (int status = 100; status < 600; ++status)
      if (const std::string_view reason = reason_phrase(status); reason != "Unknown")
        t[static_cast<std::size_t>(status - 100)] =
            "HTTP/1.1 " + std::to_string(status) + ' ' + std::string(reason) + std::string(server_date);
    return t;
  }();
  return lines;
}

struct number_text {
  char digits[20];
  std::size_t size;
  explicit number_text(std::uint64_t n) noexcept
      : size(static_cast<std::size_t>(std::to_chars(digits, digits + sizeof digits, n).ptr - digits)) {}
  std::string_view view() const noexcept { return {digits, size}; }
};
}  // namespace

// Plain copies rather than fmt: this runs once per response and was the largest single cost
// of a pipelined /plain request (format-string parsing and a growing back_inserter).
void append_head(std::string& out, const response& r, std::string_view date, bool keep_alive, int version_minor) {
  constexpr std::string_view crlf = "\r\n";
  // The status line from the table, or made here for a status without a phrase of ours.
  const auto& lines = status_lines();
  std::string made;
  std::string_view status_line;
  if (r.status() >= 100 && r.status() < 600 && !lines[static_cast<std::size_t>(r.status() - 100)].empty()) {
    status_line = lines[static_cast<std::size_t>(r.status() - 100)];
  } else {
    made = "HTTP/1.1 " + std::to_string(r.status()) + " Unknown" + std::string(server_date);
    status_line = made;
  }
  // 1xx, 204 and 304 have no content; a Content-Length there would describe something else.
  const bool has_content = r.status() >= 200 && r.status() != 204 && r.status() != 304;
  const number_text length(has_content ? r.content_length() : 0);
  std::string_view framing_name, framing_value;
  if (has_content && !r.stream()) {
    framing_name = "Content-Length: ";
    framing_value = length.view();
  } else if (has_content && version_minor >= 1) {
    framing_name = "Transfer-Encoding: ";
    framing_value = "chunked";
  }
  constexpr std::string_view content_type_name = "Content-Type: ";
  const std::string_view connection = !keep_alive ? "Connection: close\r\n"
                                      : version_minor == 0 ? "Connection: keep-alive\r\n"
                                                           : "";

  std::size_t size = status_line.size() + date.size() + crlf.size() + connection.size() + crlf.size();
  if (!framing_name.empty()) size += framing_name.size() + framing_value.size() + crlf.size();
  if (!r.content_type().empty()) size += content_type_name.size() + r.content_type().size() + crlf.size();
  for (const auto& [name, value] : r.headers()) size += name.size() + 2 + value.size() + crlf.size();

  const std::size_t at = out.size();
  out.resize(at + size);
  head_cursor c{out.data() + at};
  c.put(status_line);
  c.put(date);
  c.put(crlf);
  if (!framing_name.empty()) {
    c.put(framing_name);
    c.put(framing_value);
    c.put(crlf);
  }
  if (!r.content_type().empty()) {
    c.put(content_type_name);
    c.put(r.content_type());
    c.put(crlf);
  }
  for (const auto& [name, value] : r.headers()) {
    c.put(name);
    c.put(": ");
    c.put(value);
    c.put(crlf);
  }
  c.put(connection);
  c.put(crlf);
}

}  // namespace c10k::http
