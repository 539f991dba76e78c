#include "c10k/http/static_files.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdlib>

#include "c10k/offload.hpp"

namespace c10k::http {
namespace {

constexpr off_t max_file_bytes = 64 << 20;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Decodes %XX escapes; returns false for a malformed escape or a decoded NUL.
bool percent_decode(std::string_view in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out += in[i];
      continue;
    }
    if (i + 2 >= in.size()) return false;
    int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
    if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) return false;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return true;
}

// True when no segment of the decoded relative path is "..".
bool stays_below(std::string_view rel) {
  std::size_t start = 0;
  while (start <= rel.size()) {
    std::size_t slash = rel.find('/', start);
    if (slash == std::string_view::npos) slash = rel.size();
    if (rel.substr(start, slash - start) == "..") return false;
    start = slash + 1;
  }
  return true;
}

struct file_reply {
  int status = 404;
  std::string body;
  std::string path;
};

// Runs on a helper thread: resolves and reads the file.
file_reply load(const std::string& root, std::string_view encoded) {
  file_reply reply;
  std::string rel;
  if (!percent_decode(encoded, rel) || !stays_below(rel)) return reply;
  char real_root[PATH_MAX], real_file[PATH_MAX];
  if (!::realpath(root.c_str(), real_root)) return reply;
  std::string full = std::string(real_root) + "/" + rel;
  struct stat st;
  if (::stat(full.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) full += "/index.html";
  if (!::realpath(full.c_str(), real_file)) return reply;
  const std::string_view resolved(real_file), base(real_root);
  // Symlinks are followed only while they stay inside the root.
  if (resolved.size() <= base.size() || resolved.substr(0, base.size()) != base || resolved[base.size()] != '/') return reply;
  int fd = ::open(real_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return reply;
  if (::fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return reply;
  }
  if (st.st_size > max_file_bytes) {
    ::close(fd);
    reply.status = 413;
    return reply;
  }
  reply.body.resize(static_cast<std::size_t>(st.st_size));
  std::size_t got = 0;
  while (got < reply.body.size()) {
    ssize_t n = ::read(fd, reply.body.data() + got, reply.body.size() - got);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  ::close(fd);
  reply.body.resize(got);
  reply.status = 200;
  reply.path = real_file;
  return reply;
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
    std::string encoded(req.param(param));
    file_reply f = co_await offload([&root, &encoded] { return load(root, encoded); });
    if (f.status == 404) co_return response::text(404, "Not Found\n");
    if (f.status != 200) co_return response::text(f.status, "File too large\n");
    response r(200);
    r.set_header("Content-Type", std::string(content_type_for(f.path)));
    r.set_body(std::move(f.body));
    co_return r;
  };
}

}  // namespace c10k::http
