// A blocking HTTP/1.1 test client over loopback: sends raw bytes, reads framed responses.
// Every read has a 10-second receive timeout, so a server that hangs fails the test instead
// of hanging it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <poll.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <chrono>
#include <thread>
#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace c10k::testing {

// Connects fd to 127.0.0.1:port, riding out EINTR (io_uring task work in this process can
// interrupt a blocking connect): waits for the connection to finish and checks its outcome.
inline bool connect_loopback(int fd, std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) return true;
  if (errno != EINTR && errno != EINPROGRESS && errno != EALREADY) return false;
  pollfd p{fd, POLLOUT, 0};
  int n;
  do n = ::poll(&p, 1, 10'000);
  while (n < 0 && errno == EINTR);
  if (n <= 0) return false;
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err != 0) {
    errno = err;
    return false;
  }
  return true;
}

// A port free on 127.0.0.1 right now, for a peer that cannot report the one it bound (nginx).
inline std::uint16_t free_loopback_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

// n bytes of a fixed pattern that covers every byte value but 251-255, for bodies checked byte
// for byte.
inline std::string pattern_bytes(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>(i * 31 % 251);
  return s;
}

struct http_reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  std::string header(const std::string& name) const {
    auto it = headers.find(name);
    return it == headers.end() ? "" : it->second;
  }
};

class http_client {
 public:
  explicit http_client(std::uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!connect_loopback(fd_, port)) throw std::runtime_error(std::string("connect failed: ") + std::strerror(errno));
    // Timeouts only now: with them set, an interrupted connect would fail with EINTR.
    timeval tv{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  http_client(const http_client&) = delete;
  http_client(http_client&& o) noexcept : fd_(o.fd_), buf_(std::move(o.buf_)) { o.fd_ = -1; }
  virtual ~http_client() {
    if (fd_ >= 0) ::close(fd_);
  }

  void send(const std::string& bytes) {
    std::size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = raw_send(bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) throw std::runtime_error("send failed");
      done += static_cast<std::size_t>(n);
    }
  }

  // Reads one response (Content-Length framed); nullopt when the server closed first.
  std::optional<http_reply> read_reply(bool head_request = false) {
    std::size_t end;
    while ((end = buf_.find("\r\n\r\n")) == std::string::npos)
      if (!fill()) return std::nullopt;
    http_reply r;
    std::string head = buf_.substr(0, end);
    buf_.erase(0, end + 4);
    auto line_end = head.find("\r\n");
    std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12) return std::nullopt;
    r.status = std::stoi(status_line.substr(9, 3));
    std::size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
    while (pos < head.size()) {
      auto next = head.find("\r\n", pos);
      if (next == std::string::npos) next = head.size();
      std::string line = head.substr(pos, next - pos);
      auto colon = line.find(':');
      std::string name = line.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
      pos = next + 2;
    }
    if (!head_request && r.header("transfer-encoding") == "chunked") {
      // Chunked: size line, data, CRLF; until the zero-size chunk and the empty trailer line.
      for (;;) {
        std::size_t eol;
        while ((eol = buf_.find("\r\n")) == std::string::npos)
          if (!fill()) return std::nullopt;
        const std::size_t size = std::stoul(buf_.substr(0, eol), nullptr, 16);
        buf_.erase(0, eol + 2);
        while (buf_.size() < size + 2)
          if (!fill()) return std::nullopt;
        r.body += buf_.substr(0, size);
        buf_.erase(0, size + 2);
        if (size == 0) return r;
      }
    }
    if (!head_request && r.header("content-length").empty() && r.header("connection") == "close" && r.status >= 200 &&
        r.status != 204 && r.status != 304) {
      while (fill()) {}  // delimited by the close
      r.body = std::move(buf_);
      buf_.clear();
      return r;
    }
    std::size_t length = head_request ? 0 : std::stoul(r.header("content-length").empty() ? "0" : r.header("content-length"));
    while (buf_.size() < length)
      if (!fill()) return std::nullopt;
    r.body = buf_.substr(0, length);
    buf_.erase(0, length);
    return r;
  }

  // Sends a request and reads its reply.
  std::optional<http_reply> request(const std::string& bytes) {
    send(bytes);
    return read_reply();
  }

  // True when the server closed the connection (EOF) with no further bytes.
  // Reads until `what` has arrived, or the server closed (or 10 s passed in silence); returns
  // everything read and not yet taken by read_reply, for byte-exact checks.
  std::string read_until(std::string_view what) {
    while (buf_.find(what) == std::string::npos)
      if (!fill()) break;
    return buf_;
  }
  // Reads until the server closes (or 10 s of silence); returns everything not yet taken.
  std::string read_all() {
    while (fill()) {}
    return buf_;
  }
  int fd() const noexcept { return fd_; }

  bool closed_by_server() {
    if (!buf_.empty()) return false;
    char c;
    ssize_t n;
    do n = raw_recv(&c, 1);
    while (n < 0 && errno == EINTR);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 protected:
  // The byte stream under HTTP: the socket (a TLS client overrides both).
  virtual ssize_t raw_send(const char* p, std::size_t n) { return ::send(fd_, p, n, MSG_NOSIGNAL); }
  virtual ssize_t raw_recv(char* p, std::size_t n) { return ::recv(fd_, p, n, 0); }

 private:
  bool fill() {
    char tmp[65536];
    ssize_t n;
    // With SO_RCVTIMEO set, an interrupted recv fails with EINTR instead of restarting (io_uring
    // task work in this process can interrupt it): retry.
    do n = raw_recv(tmp, sizeof tmp);
    while (n < 0 && errno == EINTR);
    if (n <= 0) return false;
    buf_.append(tmp, static_cast<std::size_t>(n));
    return true;
  }

  int fd_ = -1;
  std::string buf_;
};

// Polls cond every millisecond for up to `limit`; returns whether it became true.
template <typename F>
bool eventually(F cond, std::chrono::milliseconds limit = std::chrono::milliseconds(5000)) {
  const auto until = std::chrono::steady_clock::now() + limit;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

inline std::string get(const std::string& path, const std::string& extra = "") {
  return "GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra + "\r\n";
}

}  // namespace c10k::testing
