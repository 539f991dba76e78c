// request: one parsed HTTP request as a handler sees it; views into the connection's buffer,
// valid until the handler's response is written.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "c10k/address.hpp"
#include "c10k/http/parser.hpp"

#include "c10k/result.hpp"
#include "c10k/task.hpp"

namespace c10k::http {

// A request body read piece by piece, for routes registered with stream_body.
class body_reader {
 public:
  // The next piece of the body (a view valid until the next call), empty at its end; or the
  // error: timed_out for a client too slow (body_timeout, minimum rate), bad_message for
  // broken chunked framing, file_too_large past max_body_bytes. The first call sends
  // "100 Continue" when the client asked for it.
  virtual task<result<std::string_view>> read() = 0;

 protected:
  ~body_reader() = default;
};

class request {
 public:
  request(const request_head& head, std::string_view body) noexcept;
  // For the server: makes this the request `head` begins, as if newly made with an empty
  // body, keeping only the capacity of its parameters (the server reuses one per burst object).
  void reset(const request_head& head) noexcept;

  std::string_view method() const noexcept { return head_->method; }
  // The request-target as sent ("/users/7?x=1").
  std::string_view target() const noexcept { return head_->target; }
  // The path of the target, without query ("/users/7"); "*" for OPTIONS *.
  std::string_view path() const noexcept { return path_; }
  // The query after '?', without it; empty when there is none.
  std::string_view query() const noexcept { return query_; }
  int version_minor() const noexcept { return head_->version_minor; }
  // The first header called `name` (case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const noexcept { return head_->header(name); }
  const std::vector<header_field>& headers() const noexcept { return head_->headers; }
  // The whole body (decoded if it came chunked); empty when there is none, and on routes
  // that stream the body (see body_stream()).
  std::string_view body() const noexcept { return body_; }
  // The body as a stream, on routes registered with route_options{.stream_body = true};
  // throws std::logic_error on other routes (their body is already whole in body()).
  body_reader& body_stream() const;
  void set_body_stream(body_reader* r) noexcept { body_stream_ = r; }
  // For the server: the whole body, once it has arrived.
  void set_body(std::string_view body) noexcept { body_ = body; }
  // The client's address (getpeername on the connection, asked once per connection), or the
  // error (no connection known).
  result<address> peer() const;
  // For the server: the connection's socket, which peer() asks, and where the connection keeps
  // the answer for its later requests (nullptr: ask every time).
  void set_connection_fd(int fd, std::unique_ptr<address>* peer_cache = nullptr) noexcept {
    connection_fd_ = fd;
    peer_cache_ = peer_cache;
  }
  // Whether the client wants the connection kept open after this request.
  bool keep_alive() const noexcept { return head_->keep_alive; }

  // The path parameter called `name` ("{id}" in the route), or an empty view.
  std::string_view param(std::string_view name) const noexcept;
  // For the router: records a path parameter.
  void set_param(std::string_view name, std::string_view value) { params_.emplace_back(name, value); }
  void clear_params() noexcept { params_.clear(); }

 private:
  const request_head* head_;
  std::string_view body_;
  std::string_view path_;
  std::string_view query_;
  body_reader* body_stream_ = nullptr;
  int connection_fd_ = -1;
  std::unique_ptr<address>* peer_cache_ = nullptr;
  std::vector<std::pair<std::string_view, std::string_view>> params_;
};

}  // namespace c10k::http
