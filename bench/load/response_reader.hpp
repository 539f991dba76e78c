// response_reader: an incremental HTTP/1.1 response framer for the load generator.
//
// It finds where each response ends (status line and headers, then a Content-Length,
// chunked or close-delimited body) and keeps only the head while it is incomplete; body bytes
// are counted and skipped, never copied. Lenient where a client can afford it (bare LF line
// ends), strict where framing is at stake (a malformed length or chunk size is an error).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace c10k::load {

class response_reader {
 public:
  enum class status { need_more, complete, error };

  // Heads larger than this are an error: a load generator talks to servers it trusts, but a
  // broken one must not make it grow without bound.
  static constexpr std::size_t max_head_bytes = 64 * 1024;

  // Consumes bytes from the front of `in` (advancing it) up to the end of one response.
  // Returns complete when a response ended (the rest of `in` belongs to the next one),
  // need_more when all of `in` was used, error when the bytes cannot be framed.
  status parse(std::string_view& in);
  // Tells the reader the connection reached end of stream. Returns complete when that ends a
  // close-delimited body, error when a response was cut short, need_more when none had begun.
  status finish();

  // The status code of the response that completed last.
  int status_code() const noexcept { return status_code_; }
  // True when the connection stays open after the response that completed last.
  bool keep_alive() const noexcept { return keep_alive_; }
  // True between a response's first byte and its end.
  bool in_progress() const noexcept { return state_ != state::head || !head_.empty(); }
  // Why the last error happened (a short phrase), or "".
  std::string_view error_reason() const noexcept { return error_; }

 private:
  enum class state { head, body_length, body_close, chunk_size, chunk_ext, chunk_data, chunk_data_end, trailer };

  status parse_head(std::string_view& in);
  status fail(std::string_view why) {
    error_ = why;
    return status::error;
  }
  status done();

  state state_ = state::head;
  std::string head_;               // the head so far (only while it is incomplete)
  std::uint64_t remaining_ = 0;    // body_length, chunk_data: bytes left
  int chunk_digits_ = 0;           // chunk_size: hex digits seen on this line
  std::size_t trailer_line_ = 0;   // trailer: bytes on the current line (CR excluded)
  int status_code_ = 0;
  bool keep_alive_ = true;
  std::string_view error_;
};

}  // namespace c10k::load
