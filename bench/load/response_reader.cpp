#include "response_reader.hpp"

#include <algorithm>
#include <charconv>

namespace c10k::load {

namespace {

bool iequals(std::string_view a, std::string_view b) noexcept {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

// True when the comma-separated list `value` holds `token` (case-insensitive).
bool has_token(std::string_view value, std::string_view token) noexcept {
  while (!value.empty()) {
    const auto comma = value.find(',');
    if (iequals(trim(value.substr(0, comma)), token)) return true;
    if (comma == std::string_view::npos) break;
    value.remove_prefix(comma + 1);
  }
  return false;
}

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  c = static_cast<char>(c | 0x20);
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

response_reader::status response_reader::done() {
  state_ = state::head;
  head_.clear();
  return status::complete;
}

response_reader::status response_reader::parse(std::string_view& in) {
  while (!in.empty()) {
    switch (state_) {
      case state::head: {
        // need_more: the head is incomplete (all of `in` is used), or it announced a body, or
        // it was an interim response; the loop goes on with whatever `in` still holds.
        if (const status s = parse_head(in); s != status::need_more) return s;
        break;
      }
      case state::body_length: {
        const auto n = std::min<std::uint64_t>(remaining_, in.size());
        in.remove_prefix(n);
        remaining_ -= n;
        if (remaining_ == 0) return done();
        break;
      }
      case state::body_close:
        in.remove_prefix(in.size());
        break;
      case state::chunk_size: {
        const char c = in.front();
        if (const int v = hex_value(c); v >= 0) {
          if (++chunk_digits_ > 15) return fail("chunk size too large");
          remaining_ = remaining_ * 16 + static_cast<unsigned>(v);
          in.remove_prefix(1);
        } else if (chunk_digits_ == 0) {
          return fail("bad chunk size");
        } else {
          state_ = state::chunk_ext;  // extensions, CR, LF: skipped up to the LF
        }
        break;
      }
      case state::chunk_ext: {
        const auto lf = in.find('\n');
        if (lf == std::string_view::npos) {
          in.remove_prefix(in.size());
          break;
        }
        in.remove_prefix(lf + 1);
        chunk_digits_ = 0;
        if (remaining_ == 0) {
          trailer_line_ = 0;
          state_ = state::trailer;
        } else {
          state_ = state::chunk_data;
        }
        break;
      }
      case state::chunk_data: {
        const auto n = std::min<std::uint64_t>(remaining_, in.size());
        in.remove_prefix(n);
        remaining_ -= n;
        if (remaining_ == 0) state_ = state::chunk_data_end;
        break;
      }
      case state::chunk_data_end: {
        const char c = in.front();
        in.remove_prefix(1);
        if (c == '\n') state_ = state::chunk_size;
        else if (c != '\r') return fail("chunk data not followed by CRLF");
        break;
      }
      case state::trailer: {
        const char c = in.front();
        in.remove_prefix(1);
        if (c == '\n') {
          if (trailer_line_ == 0) return done();
          trailer_line_ = 0;
        } else if (c != '\r') {
          if (++trailer_line_ > max_head_bytes) return fail("trailer too large");
        }
        break;
      }
    }
  }
  return status::need_more;
}

response_reader::status response_reader::parse_head(std::string_view& in) {
  // Look for the blank line in what is kept plus the new bytes, without copying the new bytes
  // when the whole head arrived in one piece (the common case).
  std::string_view head;
  std::size_t used = 0;
  const std::size_t kept = head_.size();
  if (kept == 0) {
    // Responses may be preceded by stray CRLFs (RFC 9112 2.2 allows a client to ignore them).
    while (!in.empty() && (in.front() == '\r' || in.front() == '\n')) in.remove_prefix(1);
    if (in.empty()) return status::need_more;
    auto end = in.find("\r\n\r\n");
    std::size_t term = 4;
    if (auto lf = in.find("\n\n"); lf != std::string_view::npos && (end == std::string_view::npos || lf < end)) {
      end = lf;
      term = 2;
    }
    if (end == std::string_view::npos) {
      if (in.size() > max_head_bytes) return fail("response head too large");
      head_.assign(in);
      in.remove_prefix(in.size());
      return status::need_more;
    }
    head = in.substr(0, end + term);
    used = end + term;
  } else {
    // Append up to the head limit, find the end, then give back what belongs to the body.
    const std::size_t take = std::min(in.size(), max_head_bytes + 4 - kept);
    head_.append(in.substr(0, take));
    const std::size_t from = kept >= 3 ? kept - 3 : 0;
    auto end = head_.find("\r\n\r\n", from);
    std::size_t term = 4;
    if (auto lf = head_.find("\n\n", from); lf != std::string::npos && (end == std::string::npos || lf < end)) {
      end = lf;
      term = 2;
    }
    if (end == std::string::npos) {
      if (head_.size() > max_head_bytes) return fail("response head too large");
      in.remove_prefix(take);
      return status::need_more;
    }
    used = end + term - kept;
    head_.resize(end + term);
    head = head_;
  }

  // Status line: HTTP/1.x SP 3DIGIT SP reason.
  auto eol = head.find('\n');
  std::string_view line = trim(head.substr(0, eol));
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[8] != ' ') return fail("bad status line");
  const bool http10 = line[7] == '0';
  int code = 0;
  if (auto [p, ec] = std::from_chars(line.data() + 9, line.data() + 12, code); ec != std::errc{} || p != line.data() + 12)
    return fail("bad status code");
  status_code_ = code;

  bool has_length = false, chunked = false, close = false, keep = false;
  std::uint64_t length = 0;
  std::string_view rest = head.substr(eol + 1);
  while (!rest.empty()) {
    eol = rest.find('\n');
    std::string_view field = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
    field = trim(field);
    if (field.empty()) continue;
    const auto colon = field.find(':');
    if (colon == std::string_view::npos || colon == 0) return fail("bad header line");
    const std::string_view name = field.substr(0, colon);
    const std::string_view value = trim(field.substr(colon + 1));
    if (iequals(name, "content-length")) {
      std::uint64_t v = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (ec != std::errc{} || p != value.data() + value.size() || (has_length && v != length))
        return fail("bad Content-Length");
      has_length = true;
      length = v;
    } else if (iequals(name, "transfer-encoding")) {
      chunked = has_token(value, "chunked");
    } else if (iequals(name, "connection")) {
      close = close || has_token(value, "close");
      keep = keep || has_token(value, "keep-alive");
    }
  }
  in.remove_prefix(used);
  head_.clear();

  // Interim responses (100 Continue and the like) carry no body and precede the real one.
  if (code >= 100 && code < 200) return status::need_more;
  keep_alive_ = !close && (!http10 || keep);
  if (code == 204 || code == 304) return done();
  if (chunked) {
    remaining_ = 0;
    chunk_digits_ = 0;
    state_ = state::chunk_size;
    return status::need_more;
  }
  if (has_length) {
    if (length == 0) return done();
    remaining_ = length;
    state_ = state::body_length;
    return status::need_more;
  }
  keep_alive_ = false;  // delimited by the close
  state_ = state::body_close;
  return status::need_more;
}

response_reader::status response_reader::finish() {
  if (state_ == state::body_close) return done();
  if (in_progress()) {
    state_ = state::head;
    head_.clear();
    return fail("connection closed mid-response");
  }
  return status::need_more;
}

}  // namespace c10k::load
