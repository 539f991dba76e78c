#include "request_reader.hpp"

#include <algorithm>
#include <cstring>

namespace c10k::http {

void request_reader::append(std::string_view bytes) {
  // Nothing points into the consumed prefix: a request that waits for input keeps its head in
  // head_store_, and a complete request is answered before the next receive.
  if (pos_ > 0) {
    in_.erase(0, pos_);
    pos_ = 0;
  }
  if (in_body()) body_received_ += bytes.size();
  in_.append(bytes);
}

read_status request_reader::next() {
  switch (state_) {
    case state::head: return read_head();
    case state::body: return read_body();
    case state::stream: return read_status::need_input;
    case state::complete: return read_status::request;
    case state::failed: return read_status::error;
  }
  return read_status::error;
}

// Scans only the bytes not scanned before for what could end a head: the end of the request
// line (parsed once, so junk is refused at once) and then an empty line (LF LF or LF CR LF:
// the parser accepts a bare LF as a line end). Past the head limit the parser has to answer
// (431), whatever the bytes are.
bool request_reader::head_may_be_complete() noexcept {
  const char* base = in_.data() + pos_;
  const std::size_t n = in_.size() - pos_;
  std::size_t i = scanned_;
  while (i < n) {
    const void* lf = std::memchr(base + i, '\n', n - i);
    if (!lf) break;
    const std::size_t at = static_cast<std::size_t>(static_cast<const char*>(lf) - base);
    if (!line_seen_) {
      line_seen_ = true;
      scanned_ = at + 1;
      return true;
    }
    // Undecided until the bytes after this LF arrive: look at it again then.
    if (at + 1 == n || (at + 2 == n && base[at + 1] == '\r')) {
      scanned_ = at;
      return n >= limits_.max_head_bytes;
    }
    if (base[at + 1] == '\n' || (base[at + 1] == '\r' && base[at + 2] == '\n')) {
      scanned_ = at + 1;
      return true;
    }
    i = at + 1;
  }
  scanned_ = n;
  return n >= limits_.max_head_bytes;
}

// Input that ends in CRLF CRLF holds an empty line after pos_, so a head that starts there is
// complete (or pos_ is at nothing but empty lines, which the parser skips at little cost): no
// need to scan for it. That is how nearly every head arrives, alone or last in a pipelined batch.
bool request_reader::ends_in_empty_line() const noexcept {
  return in_.size() - pos_ >= 4 && std::memcmp(in_.data() + in_.size() - 4, "\r\n\r\n", 4) == 0;
}

read_status request_reader::read_head() {
  if (pos_ == in_.size() || !(ends_in_empty_line() || head_may_be_complete())) return read_status::need_input;
  if (parses_) ++*parses_;
  const std::string_view avail(in_.data() + pos_, in_.size() - pos_);
  const parse_result r = parse_request_head(avail, head_, limits_);
  if (r.status == parse_status::incomplete) return read_status::need_input;
  if (r.status == parse_status::error) return fail(r.error);
  scanned_ = 0;
  line_seen_ = false;
  body_ = {};
  const std::size_t body_at = pos_ + r.consumed;
  const std::size_t after_head = in_.size() - body_at;
  switch (head_.framing) {
    case body_framing::none:
      body_received_ = 0;
      head_end_ = body_at;
      state_ = state::complete;
      return read_status::head;
    case body_framing::content_length: {
      if (head_.content_length > max_body_) return fail(parse_error::body_too_large);
      const std::size_t length = static_cast<std::size_t>(head_.content_length);
      body_received_ = after_head;
      if (after_head >= length) {
        body_ = std::string_view(in_.data() + body_at, length);
        head_end_ = body_at + length;
        state_ = state::complete;
        return read_status::head;
      }
      // The body is under way: keep the head apart, and make room for the whole body once.
      keep_head(body_at);
      in_.erase(0, body_at);
      pos_ = 0;
      in_.reserve(length);
      body_left_ = length;
      state_ = state::body;
      return read_status::head;
    }
    case body_framing::chunked: {
      decoder_.reset();
      chunked_.clear();
      const parse_result d = decoder_.decode(avail.substr(r.consumed), chunked_, max_body_);
      body_received_ = after_head;
      if (d.status == parse_status::error) return fail(d.error);
      if (d.status == parse_status::done) {
        body_ = chunked_;
        head_end_ = body_at + d.consumed;
        state_ = state::complete;
        return read_status::head;
      }
      keep_head(body_at);
      pos_ = in_.size();  // all of it decoded
      state_ = state::body;
      return read_status::head;
    }
  }
  return fail(parse_error::bad_transfer_encoding);
}

read_status request_reader::read_body() {
  if (head_.framing == body_framing::content_length) {
    if (in_.size() - pos_ < body_left_) return read_status::need_input;
    body_ = std::string_view(in_.data() + pos_, body_left_);
    head_end_ = pos_ + body_left_;
    body_left_ = 0;
    state_ = state::complete;
    return read_status::request;
  }
  const parse_result d = decoder_.decode(std::string_view(in_).substr(pos_), chunked_, max_body_);
  pos_ += d.consumed;
  if (d.status == parse_status::error) return fail(d.error);
  if (d.status == parse_status::incomplete) return read_status::need_input;
  body_ = chunked_;
  head_end_ = pos_;
  state_ = state::complete;
  return read_status::request;
}

// Copies the head (in_[pos_, end)) into head_store_ and moves every view of head_ there.
void request_reader::keep_head(std::size_t end) {
  head_store_.assign(in_, pos_, end - pos_);
  const char* from = in_.data() + pos_;
  const char* to = head_store_.data();
  const auto move = [&](std::string_view& v) {
    if (v.data() >= from && v.data() <= from + (end - pos_)) v = std::string_view(to + (v.data() - from), v.size());
  };
  move(head_.method);
  move(head_.target);
  move(head_.host);
  for (header_field& f : head_.headers) {
    move(f.name);
    move(f.value);
  }
}

void request_reader::stream_body() noexcept {
  if (state_ == state::complete) {
    // The whole body is here already: hand it out from where it lies.
    if (head_.framing == body_framing::content_length) {
      pos_ = head_end_ - body_.size();
      body_left_ = body_.size();
    } else {
      pos_ = head_end_;
    }
  }
  chunks_done_ = state_ == state::complete;
  body_ = {};
  state_ = state::stream;
}

piece_status request_reader::next_piece(std::string_view& piece) {
  piece = {};
  if (state_ == state::failed) return piece_status::error;
  if (head_.framing == body_framing::none) return piece_status::end;
  if (head_.framing == body_framing::content_length) {
    if (body_left_ == 0) return piece_status::end;
    const std::size_t n = std::min<std::size_t>(in_.size() - pos_, body_left_);
    if (n == 0) return piece_status::need_input;
    piece = std::string_view(in_.data() + pos_, n);
    pos_ += n;
    body_left_ -= n;
    return piece_status::piece;
  }
  if (chunked_.empty() && !chunks_done_) {
    const parse_result d = decoder_.decode(std::string_view(in_).substr(pos_), chunked_, max_body_);
    pos_ += d.consumed;
    if (d.status == parse_status::error) {
      fail(d.error);
      return piece_status::error;
    }
    chunks_done_ = d.status == parse_status::done;
  }
  if (!chunked_.empty()) {
    piece_.swap(chunked_);
    chunked_.clear();
    piece = piece_;
    return piece_status::piece;
  }
  return chunks_done_ ? piece_status::end : piece_status::need_input;
}

void request_reader::finish_request() noexcept {
  if (state_ == state::complete) pos_ = head_end_;
  state_ = state::head;
  body_ = {};
  body_left_ = 0;
  body_received_ = 0;
  chunked_.clear();
  head_store_.clear();
  if (pos_ == in_.size()) {
    in_.clear();
    pos_ = 0;
  }
}

void request_reader::reset(std::size_t keep) noexcept {
  // The head's views point into buffers that are cleared (or freed) here: forget them, so the
  // next burst's first request object is built on nothing stale.
  head_.method = head_.target = head_.host = {};
  head_.headers.clear();
  in_.clear();
  pos_ = 0;
  scanned_ = 0;
  line_seen_ = false;
  state_ = state::head;
  body_ = {};
  body_left_ = 0;
  body_received_ = 0;
  error_ = parse_error::none;
  chunked_.clear();
  piece_.clear();
  head_store_.clear();
  for (std::string* s : {&in_, &chunked_, &piece_, &head_store_})
    if (s->capacity() > keep) std::string().swap(*s);
}

read_status request_reader::fail(parse_error e) noexcept {
  error_ = e;
  state_ = state::failed;
  return read_status::error;
}

}  // namespace c10k::http
