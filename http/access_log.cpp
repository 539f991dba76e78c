#include "access_log.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <iterator>

#include <fmt/format.h>

#include "c10k/detail/quiet_thread.hpp"
#include "c10k/log.hpp"

namespace c10k::http {

namespace {

// Appends s with what could break a line or a field escaped as \xHH, as nginx does
// (combined), or as JSON wants it.
void append_escaped(std::string& out, std::string_view s, bool json) {
  // Runs of plain characters are appended whole: this runs for several fields per request.
  std::size_t run = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c != '"' && c != '\\' && c >= 0x20 && c < 0x7f) continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (json) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
    } else {
      fmt::format_to(std::back_inserter(out), "\\x{:02X}", c);
    }
  }
  out.append(s.data() + run, s.size() - run);
}

void append_number(std::string& out, std::uint64_t n) {
  char text[24];
  const auto [end, ec] = std::to_chars(text, text + sizeof text, n);
  out.append(text, end);
}

std::string peer_text(const peer_ip& p) {
  char text[INET6_ADDRSTRLEN] = "-";
  if (p.family == 4) ::inet_ntop(AF_INET, p.bytes.data(), text, sizeof text);
  else if (p.family == 6) ::inet_ntop(AF_INET6, p.bytes.data(), text, sizeof text);
  return text;
}

// write(2) all of s to fd; a failure is logged once per buffer and the rest dropped.
void write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::write(fd, s.data(), s.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      log(log_level::error, "access log: write failed: {}", std::error_code(errno, std::system_category()).message());
      return;
    }
    s.remove_prefix(static_cast<std::size_t>(n));
  }
}

}  // namespace

int access_log_sink::open_file() const noexcept {
  if (path_ == "-") return STDOUT_FILENO;
  return ::open(path_.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

result<std::unique_ptr<access_log_sink>> access_log_sink::open(std::string path) {
  std::unique_ptr<access_log_sink> s(new access_log_sink(std::move(path), -1));
  s->fd_ = s->open_file();
  if (s->fd_ < 0) return std::error_code(errno, std::system_category());
  s->thread_ = detail::quiet_thread([p = s.get()] { p->run(); });  // (the reopen's SIGHUP is run()'s)
  return s;
}

access_log_sink::access_log_sink(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}

access_log_sink::~access_log_sink() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  if (fd_ > STDERR_FILENO) ::close(fd_);
}

void access_log_sink::submit(std::string&& lines) {
  {
    std::lock_guard lock(mutex_);
    queue_.push_back(std::move(lines));
    ++submitted_;
  }
  cv_.notify_one();
}

void access_log_sink::reopen() noexcept {
  {
    std::lock_guard lock(mutex_);
    reopen_ = true;
  }
  cv_.notify_one();
}

void access_log_sink::sync() {
  std::unique_lock lock(mutex_);
  const std::uint64_t target = submitted_;
  written_cv_.wait(lock, [&] { return written_ >= target && !reopen_; });
}

void access_log_sink::run() {
  std::unique_lock lock(mutex_);
  for (;;) {
    cv_.wait(lock, [this] { return stopping_ || reopen_ || !queue_.empty(); });
    if (reopen_) {
      reopen_ = false;
      if (path_ != "-") {
        const int fd = open_file();
        if (fd < 0) {
          log(log_level::error, "access log: cannot reopen {}: {}; keeping the old file", path_,
              std::error_code(errno, std::system_category()).message());
        } else {
          ::close(fd_);
          fd_ = fd;
        }
      }
      written_cv_.notify_all();
    }
    if (!queue_.empty()) {
      std::string lines = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      write_all(fd_, lines);  // outside the lock: loops hand over meanwhile
      lock.lock();
      ++written_;
      written_cv_.notify_all();
      continue;
    }
    if (stopping_) return;
  }
}

const std::string& access_log_buffer::time_text(std::time_t now) {
  if (now != cached_second_ || cached_time_.empty()) {
    cached_second_ = now;
    std::tm tm{};
    ::localtime_r(&now, &tm);
    char text[64];
    const std::size_t n = std::strftime(text, sizeof text, json_ ? "%Y-%m-%dT%H:%M:%S%z" : "%d/%b/%Y:%H:%M:%S %z", &tm);
    cached_time_.assign(text, n);
  }
  return cached_time_;
}

void access_log_buffer::append_peer(const peer_ip& p) {
  // Consecutive requests mostly come from the same client: its text is kept.
  if (p.family != cached_peer_.family || p.bytes != cached_peer_.bytes || cached_peer_text_.empty()) {
    cached_peer_ = p;
    cached_peer_text_ = peer_text(p);
  }
  buf_ += cached_peer_text_;
}

void access_log_buffer::add(const peer_ip& peer, const request_head* head, int status, std::uint64_t bytes,
                            std::chrono::nanoseconds took) {
  const std::string& when = time_text(std::time(nullptr));
  auto out = std::back_inserter(buf_);
  if (json_) {
    buf_ += R"({"time":")";
    buf_ += when;
    buf_ += R"(","remote":")";
    append_peer(peer);
    buf_ += R"(","method":")";
    if (head) append_escaped(buf_, head->method, true);
    buf_ += R"(","target":")";
    if (head) append_escaped(buf_, head->target, true);
    fmt::format_to(out, R"(","version":"HTTP/1.{}","status":{},"bytes":{},"duration_us":{})", head ? head->version_minor : 1,
                   status, bytes, took.count() / 1000);
    buf_ += "}\n";
  } else {
    append_peer(peer);
    buf_ += " - - [";
    buf_ += when;
    buf_ += "] \"";
    if (head) {
      append_escaped(buf_, head->method, false);
      buf_ += ' ';
      append_escaped(buf_, head->target, false);
      buf_ += head->version_minor == 0 ? " HTTP/1.0" : " HTTP/1.1";
    } else {
      buf_ += '-';
    }
    buf_ += "\" ";
    append_number(buf_, static_cast<std::uint64_t>(status));
    buf_ += ' ';
    append_number(buf_, bytes);
    buf_ += " \"";
    const auto referer = head ? head->header("Referer") : std::nullopt;
    append_escaped(buf_, referer ? *referer : "-", false);
    buf_ += "\" \"";
    const auto agent = head ? head->header("User-Agent") : std::nullopt;
    append_escaped(buf_, agent ? *agent : "-", false);
    buf_ += "\"\n";
  }
  if (buf_.size() >= hand_over_bytes) flush();
}

void access_log_buffer::flush() {
  if (buf_.empty()) return;
  std::string full;
  full.reserve(hand_over_bytes + 1024);
  full.swap(buf_);
  sink_->submit(std::move(full));
}

}  // namespace c10k::http
