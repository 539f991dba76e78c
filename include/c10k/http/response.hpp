// response: what a handler returns: a status, headers and a body the server owns.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "c10k/result.hpp"
#include "c10k/task.hpp"

namespace c10k::http {

// Where a streamed body goes: each write is sent before the next is accepted.
class body_writer {
 public:
  // Sends data as the next piece of the body once the client has taken it (a slow client
  // slows the writer, not the memory); returns the error when the client is gone or stopped
  // reading for send_timeout. Empty data sends nothing.
  virtual task<result<void>> write(std::string_view data) = 0;

 protected:
  ~body_writer() = default;
};

// Produces a streamed body through a body_writer; runs while the response is being sent.
using body_producer = std::function<task<void>(body_writer&)>;

// A body sent from an open file by sendfile: the fd (owned), and the bytes to send.
class file_body {
 public:
  file_body() noexcept = default;
  file_body(int fd, off_t offset, std::size_t length) noexcept : fd_(fd), offset_(offset), length_(length) {}
  file_body(file_body&& o) noexcept : fd_(std::exchange(o.fd_, -1)), offset_(o.offset_), length_(o.length_) {}
  file_body& operator=(file_body&& o) noexcept;
  ~file_body();

  explicit operator bool() const noexcept { return fd_ >= 0; }
  // Gives up ownership; returns the fd.
  int release() noexcept { return std::exchange(fd_, -1); }
  int fd() const noexcept { return fd_; }
  off_t offset() const noexcept { return offset_; }
  std::size_t length() const noexcept { return length_; }

 private:
  int fd_ = -1;
  off_t offset_ = 0;
  std::size_t length_ = 0;
};

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
  // Adds a header. Content-Length, Transfer-Encoding and Connection are the server's: a
  // response that sets them is answered with a 500 instead. A Content-Type set here replaces
  // the one text() and json() give.
  response& set_header(std::string name, std::string value) {
    if (!content_type_.empty() && name.size() == 12 && is_content_type(name)) content_type_ = {};
    headers_.emplace_back(std::move(name), std::move(value));
    return *this;
  }
  // The Content-Type that text() or json() gave (sent before headers()), or empty.
  std::string_view content_type() const noexcept { return content_type_; }
  response& set_body(std::string body) {
    body_ = std::move(body);
    return *this;
  }
  // Sends `length` bytes of the open file fd from `offset` as the body (by sendfile, with
  // TCP_CORK so the head and the file leave in full packets); the response owns fd.
  response& set_file(int fd, off_t offset, std::size_t length) {
    file_ = file_body(fd, offset, length);
    return *this;
  }
  const file_body& file() const noexcept { return file_; }
  // Makes the body a stream that `producer` writes piece by piece while it is sent: chunked
  // for HTTP/1.1, delimited by closing the connection for HTTP/1.0.
  response& set_stream(body_producer producer) {
    stream_ = std::move(producer);
    return *this;
  }
  const body_producer& stream() const noexcept { return stream_; }
  // The body's length: the file range's, or the string's.
  std::size_t content_length() const noexcept { return file_ ? file_.length() : body_.size(); }
  // Ends the connection once this response is sent.
  response& close_connection() noexcept {
    close_ = true;
    return *this;
  }
  bool closes_connection() const noexcept { return close_; }

 private:
  static bool is_content_type(std::string_view name) noexcept;

  int status_;
  bool close_ = false;
  std::string_view content_type_;  // a literal: text() and json() set it without allocating
  std::vector<std::pair<std::string, std::string>> headers_;
  std::string body_;
  file_body file_;
  body_producer stream_;
};

// The reason phrase for a status code ("Not Found"), or "Unknown".
std::string_view reason_phrase(int status) noexcept;

// Appends the status line and header section of r to out: Server, Date (as given),
// Content-Length (not for 1xx, 204 and 304, which have no content; for a stream,
// Transfer-Encoding: chunked on HTTP/1.1 instead), the handler's headers, and "Connection: close" when !keep_alive (or
// "Connection: keep-alive" for an HTTP/1.0 client that asked for it).
void append_head(std::string& out, const response& r, std::string_view date, bool keep_alive, int version_minor);

}  // namespace c10k::http
