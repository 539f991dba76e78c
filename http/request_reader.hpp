// request_reader: turns the bytes a connection receives into requests, incrementally (private
// to c10k::http).
//
// Every receive is copied into the reader's own input buffer at once, so the backend's receive
// buffer goes back before anything else happens (io_uring's provided buffers are not pinned by
// a handler that suspends). A head is parsed once: while it is incomplete, only the new bytes
// are scanned for the blank line that ends it. A body keeps its state (Content-Length still to
// come, or the chunked decoder) across receives, so no byte is parsed twice. When a request
// must wait for more input, its head moves to storage of its own first, so appending to the
// input never invalidates the views a request (and its route's parameters) hold.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "c10k/backend.hpp"
#include "c10k/http/parser.hpp"

namespace c10k::http {

enum class read_status : std::uint8_t {
  need_input,  // more bytes are needed (in_body() says whether for a head or a body)
  head,        // a new head was parsed (once per request); its body may still be under way
  request,     // the request is complete: head() and body()
  error,       // the request is refused: error()
};

// What next_piece() found for a body read as a stream.
enum class piece_status : std::uint8_t { piece, end, need_input, error };

class request_reader {
 public:
  // Sets the limits the next requests are read under, and the counter of heads parsed.
  void configure(const parse_limits& limits, std::uint64_t max_body, counter* parses) noexcept {
    limits_ = limits;
    max_body_ = max_body;
    parses_ = parses;
  }

  // Appends received bytes (copied).
  void append(std::string_view bytes);
  // True when no byte of an unanswered request is buffered (the connection is idle).
  bool empty() const noexcept { return state_ == state::head && pos_ == in_.size(); }
  // True while a head has been parsed and its body is still under way.
  bool in_body() const noexcept { return state_ == state::body || state_ == state::stream; }
  // True from read_status::head until finish_request(): head() is the request under way.
  bool head_parsed() const noexcept { return state_ == state::body || state_ == state::stream || state_ == state::complete; }
  // Bytes buffered and not consumed.
  std::size_t buffered() const noexcept { return in_.size() - pos_; }

  // Advances over what is buffered; returns what the connection must do next.
  read_status next();
  // The head of the current request (valid from read_status::head until finish_request()).
  const request_head& head() const noexcept { return head_; }
  // The whole body of the current request, once next() returned read_status::request.
  std::string_view body() const noexcept { return body_; }
  // Why the request was refused (after read_status::error).
  parse_error error() const noexcept { return error_; }
  // Raw body bytes received so far for the current body (for the minimum-rate check).
  std::uint64_t body_bytes_received() const noexcept { return body_received_; }

  // Reads the current body as a stream from now on (a stream_body route): next() no longer
  // collects it, next_piece() hands it out.
  void stream_body() noexcept;
  // The next piece of a streamed body (a view valid until the next call).
  piece_status next_piece(std::string_view& piece);

  // Ends the current request: its head and body are consumed (a streamed body that was not
  // read to its end must be drained first).
  void finish_request() noexcept;
  // Forgets everything buffered; keeps the buffers' capacity unless it grew past `keep`.
  void reset(std::size_t keep) noexcept;


 private:
  enum class state : std::uint8_t { head, body, stream, complete, failed };

  read_status read_head();
  read_status read_body();
  bool head_may_be_complete() noexcept;
  bool ends_in_empty_line() const noexcept;
  read_status fail(parse_error e) noexcept;
  void keep_head(std::size_t end);

  parse_limits limits_{};
  std::uint64_t max_body_ = UINT64_MAX;
  state state_ = state::head;
  std::string in_;          // received bytes; in_[pos_, end) is not consumed yet
  std::size_t pos_ = 0;     // first unconsumed byte: a request's start, or its body's
  std::size_t scanned_ = 0; // bytes after pos_ already scanned for a head's end
  bool line_seen_ = false;  // the request line is complete (parsed once, to refuse junk early)
  request_head head_;
  std::string head_store_;  // the head's bytes, once it waits for its body
  std::size_t head_end_ = 0;    // where the request ends in in_ (complete requests in place)
  std::string_view body_;
  std::string chunked_;     // a chunked body decoded so far
  chunked_decoder decoder_;
  bool chunks_done_ = false;     // a streamed chunked body was decoded to its end
  std::uint64_t body_left_ = 0;  // Content-Length bytes not handed out (streamed bodies)
  std::uint64_t body_received_ = 0;
  std::string piece_;       // the last streamed piece, for a chunked body
  parse_error error_ = parse_error::none;
  counter* parses_ = nullptr;  // heads parsed (a head in pieces is parsed when it looks complete)
};

}  // namespace c10k::http
