#pragma once

// HTTP/1.x request head parser and chunked body decoder (RFC 9112).
//
// The head parser is stateless and zero-copy: every string_view it produces points into the
// caller's buffer, so the buffer must outlive the request_head and must not move between a
// parse and the use of its result. It is deliberately strict, because it faces the open
// internet: anything two HTTP implementations could read differently (the root of request
// smuggling) is refused rather than guessed at.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace c10k::http {

struct header_field {
  std::string_view name;
  std::string_view value;  // leading and trailing SP/HTAB removed
};

enum class parse_status { done, incomplete, error };

// Every reason a request is refused.
enum class parse_error {
  none,
  bad_method,
  bad_target,
  bad_version,
  version_not_supported,  // HTTP/2.0 or higher -> 505
  bad_header_name,
  bad_header_value,
  obs_fold,
  missing_host,
  duplicate_host,
  bad_host,
  header_too_large,  // 431
  too_many_headers,  // 431
  target_too_long,   // 414
  bad_content_length,
  conflicting_framing,  // Transfer-Encoding together with Content-Length
  bad_transfer_encoding,
  unsupported_transfer_encoding,  // 501
  bad_chunk,
  body_too_large,  // 413
  bad_status,      // a response's status line (response_parser.hpp)
};

// Returns a short English phrase for e ("bad request line", ...), suitable for a response body
// or a log line; never empty.
std::string_view to_string(parse_error e) noexcept;

// Returns the HTTP status code a server should answer for e: 414, 431, 413, 501 or 505 where
// marked above, 400 otherwise (including parse_error::none, which is never answered).
int status_for(parse_error e) noexcept;

enum class body_framing { none, content_length, chunked };

struct parse_limits {
  std::size_t max_head_bytes = 64 * 1024;  // request line + headers + blank line (and leading empty lines)
  std::size_t max_target_bytes = 8 * 1024;
  std::size_t max_headers = 100;
};

struct request_head {
  std::string_view method, target;  // views into the caller's buffer
  int version_minor = 1;            // HTTP/1.<minor>, 0 or 1
  std::vector<header_field> headers;  // reused between parses: clear() keeps capacity
  body_framing framing = body_framing::none;
  std::uint64_t content_length = 0;  // when framing == content_length
  bool keep_alive = true;  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "Connection: keep-alive"
  bool expect_continue = false;  // "Expect: 100-continue" (case-insensitive); always false for HTTP/1.0
  bool expectation_unmet = false;  // an Expect other than 100-continue (HTTP/1.1 only): 417
  // The Host header's value (may be empty, which RFC 9112 allows), except for an absolute-form
  // target, whose authority replaces it as RFC 9112 section 3.2.2 requires.
  std::string_view host;

  // Returns the value of the first header named `name` (ASCII case-insensitive), or nullopt when
  // there is none; a header present with an empty value gives an engaged, empty view.
  std::optional<std::string_view> header(std::string_view name) const noexcept;
};

struct parse_result {
  parse_status status;
  std::size_t consumed;
  parse_error error;
};

// Parses one request head from the start of `in`. Returns done with consumed = bytes of the head
// (leading empty lines and the request line through the blank line), incomplete (consumed = 0)
// when `in` is a valid prefix of a head, or error (consumed = 0) with the reason. Stateless: on
// incomplete, call again with more bytes from the same start. Never reads past in.size().
// `out` is overwritten; its views point into `in`.
parse_result parse_request_head(std::string_view in, request_head& out, const parse_limits& limits = {});

// True when `name`, a header name as the parsers give it (a token), is `lower` in any case;
// `lower` is lower-case letters, digits and '-' ("content-length"). Eight bytes per step, for
// code that sorts many fields by name (a proxy dropping hop-by-hop headers).
bool header_name_is(std::string_view name, std::string_view lower) noexcept;

// Incremental decoder for a chunked request body (RFC 9112 section 7.1). Keeps only a few
// integers of state, so it works when fed one byte at a time and never buffers input.
class chunked_decoder {
public:
  // A chunk extension longer than this (per chunk-size line) is refused as bad_chunk: extensions
  // are discarded, so an endless one would only burn CPU.
  static constexpr std::size_t max_chunk_ext_bytes = 4 * 1024;
  // The trailer section (everything after the last chunk's size line) is capped for the same reason.
  static constexpr std::size_t max_trailer_bytes = 64 * 1024;

  // Consumes bytes of `in` (a continuation of what earlier calls consumed), appending decoded data
  // to `out`. Returns done once the last chunk and the trailer section are consumed (consumed =
  // bytes of `in` used, possibly fewer than in.size(): the rest is the next request), incomplete
  // (consumed = in.size()) when all of `in` was used and more is needed, or error (bad_chunk, or
  // body_too_large once the decoded size would pass max_body; consumed = bytes before the offending
  // one). After done or error, further calls return the same status and consume nothing until reset().
  parse_result decode(std::string_view in, std::string& out, std::uint64_t max_body = UINT64_MAX);

  // Returns the decoder to its initial state, ready for the next body.
  void reset() noexcept;

private:
  enum class state : std::uint8_t {
    size_first,  // first hex digit of a chunk-size
    size,        // further hex digits, or what ends the size
    ext_ws,      // BWS between the size and ';'
    ext,         // chunk extension bytes, ignored
    size_lf,     // LF ending the chunk-size line
    data,
    data_cr,  // CRLF after chunk data
    data_lf,
    trailer_start,  // start of a trailer line, or CR of the final blank line
    trailer_name,
    trailer_value,
    trailer_lf,
    final_lf,
    done,
    failed,
  };

  state state_ = state::size_first;
  parse_error error_ = parse_error::none;
  std::uint64_t remaining_ = 0;  // chunk size being read, then data bytes left in the chunk
  std::uint64_t total_ = 0;      // decoded bytes so far, checked against max_body
  std::size_t count_ = 0;        // size digits, extension bytes or trailer bytes, by state
};

}  // namespace c10k::http
