#include "http_batch.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include <fmt/format.h>

#include "c10k/http/date.hpp"
#include "c10k/http/path.hpp"

namespace c10k::baseline {
namespace {

// c10k-server refuses bodies over this (server_options::max_body_bytes) with 413; so do we,
// rather than swallow an endless body.
constexpr std::uint64_t max_body_bytes = 8 << 20;

void append_response(std::string& out, const http::response& r, bool keep_alive, int version_minor, bool head_only) {
  http::append_head(out, r, http::http_date(), keep_alive, version_minor);
  if (!head_only) out += r.body();
}

// The /plain response, built once: c10k-server builds the same response::text(200, "x") per
// request; building it once is what a hand-written server would do.
const http::response& plain_response() {
  static const http::response r = http::response::text(200, "x");
  return r;
}

const http::response& not_found() {
  static const http::response r = http::response::text(404, "Not Found\n");
  return r;
}

// Opens the regular file `encoded` (a URL path) under the root, decoding it into `rel`;
// returns the fd, or -1. Counts its system calls in `syscalls`.
int open_static(const site& s, std::string_view encoded, std::string& rel, struct stat& st, std::uint32_t& syscalls) {
  if (!http::percent_decode(encoded, rel) || rel.empty() || !http::stays_below(rel)) return -1;
  ++syscalls;
  const int fd = ::openat(s.root_fd, rel.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ++syscalls;
  if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) return fd;
  ++syscalls;
  ::close(fd);
  return -1;
}

// Answers one parsed request; returns true when its response is a file queued in `file`.
bool route(const http::request_head& head, bool keep_alive, std::string& out, const site& s, http::response& file,
           std::string& path_scratch, std::uint32_t& syscalls) {
  const bool head_only = head.method == "HEAD";
  std::string_view path = head.target;
  if (const auto q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (head.method != "GET" && !head_only) {
    append_response(out, not_found(), keep_alive, head.version_minor, false);
    return false;
  }
  if (path == "/plain") {
    append_response(out, plain_response(), keep_alive, head.version_minor, head_only);
    return false;
  }
  if (path == "/stats") {
    const stats_snapshot st = s.stats();
    const http::response r = http::response::json(
        200, fmt::format(R"({{"backend":"{}","connections":{},"requests":{},"syscalls":{}}})", s.backend, st.connections,
                         st.requests, st.syscalls) + "\n");
    append_response(out, r, keep_alive, head.version_minor, head_only);
    return false;
  }
  constexpr std::string_view static_prefix = "/static/";
  if (s.root_fd >= 0 && path.starts_with(static_prefix)) {
    struct stat st;
    const int fd = open_static(s, path.substr(static_prefix.size()), path_scratch, st, syscalls);
    if (fd < 0) {
      append_response(out, not_found(), keep_alive, head.version_minor, false);
      return false;
    }
    // One type for every file: the benchmark's files have no meaningful extensions, and taking
    // c10k's type table would link in its static-file handler and with it the c10k runtime.
    http::response r(200);
    r.set_header("Content-Type", "application/octet-stream");
    r.set_file(fd, 0, static_cast<std::size_t>(st.st_size));  // r owns the fd from here on
    http::append_head(out, r, http::http_date(), keep_alive, head.version_minor);
    if (head_only || st.st_size == 0) {
      ++syscalls;  // r's destructor closes the file
      return false;
    }
    file = std::move(r);
    return true;
  }
  append_response(out, not_found(), keep_alive, head.version_minor, false);
  return false;
}

}  // namespace

batch_outcome answer_batch(std::string_view in, std::string& out, http_state& state, const site& s,
                           http::response& file, batch_scratch& scratch) {
  http::request_head& head = scratch.head;
  batch_outcome o;
  // The rest of a body that began in an earlier batch is dropped first.
  if (state.body_left > 0) {
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(state.body_left, in.size()));
    state.body_left -= n;
    o.consumed = n;
  }
  while (o.consumed < in.size()) {
    const std::string_view avail = in.substr(o.consumed);
    const http::parse_result r = http::parse_request_head(avail, head);
    if (r.status == http::parse_status::incomplete) break;
    if (r.status == http::parse_status::error) {
      // As c10k answers: the status the parser names, its reason as the body, then close.
      append_response(out, http::response::text(http::status_for(r.error), fmt::format("{}\n", http::to_string(r.error))),
                      false, 1, false);
      o.close = true;
      break;
    }
    bool keep_alive = head.keep_alive;
    std::size_t used = r.consumed;
    if (head.framing == http::body_framing::chunked) {
      // The benchmark sends no chunked bodies; refusing them keeps this server small.
      append_response(out, http::response::text(411, "Length Required\n"), false, head.version_minor, false);
      o.close = true;
      break;
    }
    if (head.framing == http::body_framing::content_length) {
      if (head.content_length > max_body_bytes) {
        append_response(out, http::response::text(413, "request body too large\n"), false, head.version_minor, false);
        o.close = true;
        break;
      }
      const std::size_t here = static_cast<std::size_t>(std::min<std::uint64_t>(head.content_length, avail.size() - used));
      used += here;
      state.body_left = head.content_length - here;
      // A client that waits for "100 Continue" will not send the rest: answering and closing is
      // the way out RFC 9110 leaves.
      if (state.body_left > 0 && head.expect_continue) keep_alive = false;
    }
    o.consumed += used;
    ++o.requests;
    o.file_queued = route(head, keep_alive, out, s, file, scratch.path, o.syscalls);
    if (!keep_alive) {
      o.close = true;
      break;
    }
    if (o.file_queued) break;
  }
  return o;
}

}  // namespace c10k::baseline
