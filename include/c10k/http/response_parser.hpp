// response_parser: the HTTP/1.x response head parser the client uses (RFC 9112), held to the
// request parser's rules (header_rules: the same byte classes, field lines and framing
// headers), and the framing that follows from a head and the request that asked for it.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "c10k/http/parser.hpp"

namespace c10k::http {

// How a response body is delimited.
enum class response_framing {
  none,            // no body: HEAD, 1xx, 204, 304, or Content-Length: 0
  content_length,  // exactly content_length bytes
  chunked,         // Transfer-Encoding: chunked
  until_close,     // neither: the body ends where the connection does
};

struct response_head {
  int version_minor = 1;  // HTTP/1.<minor>, 0 or 1
  int status = 0;         // 100..599
  std::string_view reason;
  std::vector<header_field> headers;  // views into the parsed buffer
  response_framing framing = response_framing::none;
  std::uint64_t content_length = 0;  // when framing == content_length
  // Whether the connection may carry another request: HTTP/1.1 unless "Connection: close",
  // HTTP/1.0 only with "Connection: keep-alive", never for a body delimited by the close.
  bool keep_alive = true;

  // Returns the value of the first header named `name` (ASCII case-insensitive), or nullopt.
  std::optional<std::string_view> header(std::string_view name) const noexcept;
};

// Parses one response head from the start of `in`, for a request whose method was HEAD when
// `head_request` (no body then, whatever the head says). Returns done with consumed = bytes of
// the head, incomplete (consumed = 0) while `in` is a valid prefix, or error (bad_status,
// bad_version, the header errors of parse_request_head, header_too_large / too_many_headers
// past limits). Stateless: on incomplete, call again with more bytes from the same start.
parse_result parse_response_head(std::string_view in, response_head& out, bool head_request,
                                 const parse_limits& limits = {});

}  // namespace c10k::http
