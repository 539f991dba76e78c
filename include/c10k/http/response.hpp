// response: what a handler returns: a status, headers and a body the server owns.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace c10k::http {

class response {
 public:
  explicit response(int status = 200) noexcept : status_(status) {}

  // A text/plain (UTF-8) response.
  static response text(int status, std::string body);
  // An application/json response; body must already be JSON.
  static response json(int status, std::string body);

  int status() const noexcept { return status_; }
  const std::string& body() const noexcept { return body_; }
  std::string& body() noexcept { return body_; }
  const std::vector<std::pair<std::string, std::string>>& headers() const noexcept { return headers_; }
  // Adds a header. Content-Length, Date and Connection are the server's: do not set them.
  response& set_header(std::string name, std::string value) {
    headers_.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  response& set_body(std::string body) {
    body_ = std::move(body);
    return *this;
  }
  // Ends the connection once this response is sent.
  response& close_connection() noexcept {
    close_ = true;
    return *this;
  }
  bool closes_connection() const noexcept { return close_; }

 private:
  int status_;
  bool close_ = false;
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string body_;
};

// The reason phrase for a status code ("Not Found"), or "Unknown".
std::string_view reason_phrase(int status) noexcept;

// Appends the status line and header section of r to out: Server, Date (as given),
// Content-Length, the handler's headers, and "Connection: close" when !keep_alive (or
// "Connection: keep-alive" for an HTTP/1.0 client that asked for it).
void append_head(std::string& out, const response& r, std::string_view date, bool keep_alive, int version_minor);

}  // namespace c10k::http
