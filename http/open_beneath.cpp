#include "open_beneath.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <deque>
#include <string>
#include <utility>
#include <vector>

namespace c10k::http::detail {
namespace {

constexpr int read_flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC;
constexpr int max_symlinks = 40;  // as the kernel's own path walk

// Owns one fd.
struct fd_owner {
  int fd = -1;
  explicit fd_owner(int f = -1) noexcept : fd(f) {}
  fd_owner(fd_owner&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  fd_owner& operator=(fd_owner&&) = delete;
  ~fd_owner() {
    if (fd >= 0) ::close(fd);
  }
  int release() noexcept { return std::exchange(fd, -1); }
};

// False once openat2 answered ENOSYS (or the environment asked for the walk).
std::atomic<bool>& have_openat2() {
  static std::atomic<bool> have{[] {
    const char* e = std::getenv("C10K_OPENAT2");
    return !(e && std::string_view(e) == "0");
  }()};
  return have;
}

// Splits a relative path into components, dropping empty ones and ".".
void push_components(std::deque<std::string>& parts, std::string_view path, bool at_front) {
  std::vector<std::string> found;
  std::size_t start = 0;
  while (start <= path.size()) {
    std::size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view c = path.substr(start, slash - start);
    if (!c.empty() && c != ".") found.emplace_back(c);
    start = slash + 1;
  }
  if (at_front) parts.insert(parts.begin(), found.begin(), found.end());
  else parts.insert(parts.end(), found.begin(), found.end());
}

// The fallback: one component at a time, each opened O_PATH | O_NOFOLLOW relative to the
// directory fd before it, so no component is ever looked up by a path that could change.
// Symlinks are read and their (relative) targets spliced into the walk; ".." pops a directory
// and may not pop the root.
result<int> walk_beneath(int root_fd, std::string_view rel) {
  std::deque<std::string> parts;
  push_components(parts, rel, false);
  std::vector<fd_owner> dirs;  // the directories below the root we are in, innermost last
  auto top = [&] { return dirs.empty() ? root_fd : dirs.back().fd; };
  int links = 0;
  while (!parts.empty()) {
    const std::string name = std::move(parts.front());
    parts.pop_front();
    if (name == "..") {
      if (dirs.empty()) return errno_code(EXDEV);
      dirs.pop_back();
      continue;
    }
    fd_owner f(::openat(top(), name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (f.fd < 0) return errno_code(errno);
    struct stat st;
    if (::fstat(f.fd, &st) < 0) return errno_code(errno);
    if (S_ISLNK(st.st_mode)) {
      if (++links > max_symlinks) return errno_code(ELOOP);
      std::string target(PATH_MAX, '\0');
      const ssize_t n = ::readlinkat(f.fd, "", target.data(), target.size());
      if (n < 0) return errno_code(errno);
      if (static_cast<std::size_t>(n) >= target.size()) return errno_code(ENAMETOOLONG);
      target.resize(static_cast<std::size_t>(n));
      if (target.empty() || target.front() == '/') return errno_code(EXDEV);
      push_components(parts, target, true);
      continue;
    }
    if (parts.empty()) {
      if (!S_ISREG(st.st_mode)) return f.release();  // the caller sees what it is and decides
      // Opened by name once more, O_NOFOLLOW: a symlink swapped in meanwhile fails (ELOOP);
      // anything else swapped in is still beneath the root and gets fstat-checked by the caller.
      const int fd = ::openat(top(), name.c_str(), read_flags | O_NOFOLLOW);
      return fd < 0 ? result<int>(errno_code(errno)) : result<int>(fd);
    }
    if (!S_ISDIR(st.st_mode)) return errno_code(ENOTDIR);
    dirs.push_back(std::move(f));
  }
  // The path named a directory (the root itself, or one that ended in "..").
  const int fd = ::openat(top(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
  return fd < 0 ? result<int>(errno_code(errno)) : result<int>(fd);
}

}  // namespace

bool open_beneath_uses_openat2() noexcept { return have_openat2().load(std::memory_order_relaxed); }

result<int> open_beneath(int root_fd, std::string_view rel) {
  if (have_openat2().load(std::memory_order_relaxed)) {
    const std::string path = rel.empty() ? std::string(".") : std::string(rel);
    open_how how{};
    how.flags = read_flags;
    how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
    for (int attempt = 0; attempt < 8; ++attempt) {
      const long fd = ::syscall(SYS_openat2, root_fd, path.c_str(), &how, sizeof how);
      if (fd >= 0) return static_cast<int>(fd);
      // EAGAIN: a rename raced with a ".." in the walk, and the kernel would not vouch for it.
      if (errno == EAGAIN) continue;
      if (errno != ENOSYS) return errno_code(errno);
      have_openat2().store(false, std::memory_order_relaxed);
      break;
    }
    if (have_openat2().load(std::memory_order_relaxed)) return errno_code(EAGAIN);
  }
  return walk_beneath(root_fd, rel);
}

}  // namespace c10k::http::detail
