#include "c10k/http/static_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "c10k/http/date.hpp"
#include "c10k/http/path.hpp"
#include "c10k/offload.hpp"
#include "open_beneath.hpp"

namespace c10k::http {
namespace {

struct file_reply {
  int status = 404;
  file_body file;  // the whole file, open
  struct stat st {};
  std::string path;
};

// Runs on a helper thread: opens the file beneath the root (which may block on disk). 404 for
// anything missing or outside the root, 403 for what is there but not a regular file.
file_reply open_file(const std::string& root, std::string_view encoded) {
  file_reply reply;
  std::string rel;
  if (!percent_decode(encoded, rel) || !stays_below(rel)) return reply;
  // The root by path, once per request (so a root swapped for a new release is picked up);
  // everything below it through this fd only.
  const int root_fd = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root_fd < 0) return reply;
  auto opened = detail::open_beneath(root_fd, rel);
  if (opened) reply.file = file_body(*opened, 0, 0);
  if (opened && ::fstat(*opened, &reply.st) == 0 && S_ISDIR(reply.st.st_mode)) {
    rel += rel.empty() || rel.back() == '/' ? "index.html" : "/index.html";
    opened = detail::open_beneath(root_fd, rel);
    reply.file = opened ? file_body(*opened, 0, 0) : file_body();
    if (opened && ::fstat(*opened, &reply.st) < 0) reply.file = file_body();
  }
  ::close(root_fd);
  if (!reply.file) return reply;
  if (!S_ISREG(reply.st.st_mode)) {
    reply.status = 403;  // a FIFO, device or socket: opened nonblocking at most, never read
    reply.file = file_body();
    return reply;
  }
  reply.status = 200;
  reply.path = std::move(rel);
  return reply;
}

// True when an If-None-Match list names etag (weak comparison, as RFC 9110 13.1.2 asks).
bool none_match(std::string_view list, std::string_view etag) {
  auto strip_weak = [](std::string_view t) { return t.substr(0, 2) == "W/" ? t.substr(2) : t; };
  while (!list.empty()) {
    const auto comma = list.find(',');
    std::string_view tag = list.substr(0, comma);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag == "*" || strip_weak(tag) == strip_weak(etag)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

struct byte_range {
  enum { none, satisfiable, unsatisfiable } kind = none;
  std::uint64_t first = 0, last = 0;
};

// Parses a single "bytes=" range against size. Syntax it does not take (several ranges, other
// units, garbage) gives none: the whole file is sent, as RFC 9110 14.2 allows.
byte_range parse_range(std::string_view spec, std::uint64_t size) {
  byte_range r;
  if (spec.substr(0, 6) != "bytes=") return r;
  spec.remove_prefix(6);
  if (spec.find(',') != std::string_view::npos) return r;
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return r;
  auto number = [](std::string_view d, std::uint64_t& out) {
    if (d.empty() || d.size() > 18) return false;
    out = 0;
    for (char c : d) {
      if (c < '0' || c > '9') return false;
      out = out * 10 + static_cast<std::uint64_t>(c - '0');
    }
    return true;
  };
  std::uint64_t a = 0, b = 0;
  const std::string_view first = spec.substr(0, dash), last = spec.substr(dash + 1);
  if (first.empty()) {  // suffix: the last b bytes
    if (!number(last, b)) return r;
    if (b == 0 || size == 0) return {byte_range::unsatisfiable};
    return {byte_range::satisfiable, size - std::min(b, size), size - 1};
  }
  if (!number(first, a)) return r;
  if (last.empty()) {
    b = size ? size - 1 : 0;
  } else if (!number(last, b) || b < a) {
    return r;
  }
  if (a >= size) return {byte_range::unsatisfiable};
  return {byte_range::satisfiable, a, std::min(b, size - 1)};
}

}  // namespace

std::string_view content_type_for(std::string_view name) noexcept {
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos) return "application/octet-stream";
  const std::string_view ext = name.substr(dot + 1);
  struct entry {
    std::string_view ext, type;
  };
  static constexpr entry table[] = {
      {"html", "text/html; charset=utf-8"}, {"htm", "text/html; charset=utf-8"}, {"txt", "text/plain; charset=utf-8"},
      {"css", "text/css"}, {"js", "text/javascript"}, {"json", "application/json"}, {"png", "image/png"},
      {"jpg", "image/jpeg"}, {"jpeg", "image/jpeg"}, {"gif", "image/gif"}, {"svg", "image/svg+xml"},
      {"ico", "image/x-icon"}, {"pdf", "application/pdf"}, {"wasm", "application/wasm"}, {"xml", "application/xml"},
  };
  for (const entry& e : table)
    if (e.ext == ext) return e.type;
  return "application/octet-stream";
}

handler static_files(std::string root, std::string param) {
  return [root = std::move(root), param = std::move(param)](request& req) -> task<response> {
    // The arguments are copied into the job: when the connection's scope is cancelled, the job
    // outlives this frame.
    auto opened = co_await offload(open_file, root, std::string(req.param(param)));
    if (!opened) co_return response::text(503, "Service Unavailable\n");  // drained or timed out
    file_reply f = std::move(*opened);
    if (f.status == 403) co_return response::text(403, "Forbidden\n");
    if (f.status != 200) co_return response::text(404, "Not Found\n");

    const std::uint64_t size = static_cast<std::uint64_t>(f.st.st_size);
    const auto mtime_ns = static_cast<std::uint64_t>(f.st.st_mtim.tv_sec) * 1'000'000'000u + f.st.st_mtim.tv_nsec;
    const std::string etag = fmt::format("\"{:x}-{:x}\"", size, mtime_ns);
    const std::string last_modified = format_http_date(f.st.st_mtim.tv_sec);
    auto describe = [&](response& r) {
      r.set_header("ETag", etag);
      r.set_header("Last-Modified", last_modified);
    };

    // Conditionals (RFC 9110 13.2.2): If-None-Match decides when present, else If-Modified-Since.
    bool not_modified = false;
    if (auto inm = req.header("if-none-match")) {
      not_modified = none_match(*inm, etag);
    } else if (auto ims = req.header("if-modified-since")) {
      auto since = parse_http_date(*ims);
      not_modified = since && f.st.st_mtim.tv_sec <= *since;
    }
    if (not_modified) {
      response r(304);
      describe(r);
      co_return r;
    }

    byte_range range;
    if (auto spec = req.header("range")) {
      auto if_range = req.header("if-range");
      if (!if_range || *if_range == etag) range = parse_range(*spec, size);
    }
    if (range.kind == byte_range::unsatisfiable) {
      response bad = response::text(416, "Range Not Satisfiable\n");
      bad.set_header("Content-Range", fmt::format("bytes */{}", size));
      co_return bad;
    }
    const bool partial = range.kind == byte_range::satisfiable;
    response r(partial ? 206 : 200);
    r.set_header("Content-Type", std::string(content_type_for(f.path)));
    r.set_header("Accept-Ranges", "bytes");
    describe(r);
    if (partial) {
      r.set_header("Content-Range", fmt::format("bytes {}-{}/{}", range.first, range.last, size));
      r.set_file(f.file.release(), static_cast<off_t>(range.first), range.last - range.first + 1);
    } else {
      r.set_file(f.file.release(), 0, size);
    }
    co_return r;
  };
}

}  // namespace c10k::http
