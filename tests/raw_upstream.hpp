// A scripted HTTP upstream for client tests: a loopback listener on a thread of its own whose
// connections each run a script over a blocking socket (read one request, send any bytes,
// close), so a test can play servers that break the protocol on purpose. Every socket has a
// 10-second receive timeout: a script never hangs a test.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace c10k::testing {

// One accepted connection, as a script sees it.
class raw_peer {
 public:
  explicit raw_peer(int fd) : fd_(fd) {}
  // Reads one request (head, then a Content-Length or chunked body); returns it whole, or ""
  // when the client closed (or the timeout passed) first.
  std::string read_request() {
    for (;;) {
      if (std::size_t end = complete(buf_); end != 0) {
        std::string r = buf_.substr(0, end);
        buf_.erase(0, end);
        return r;
      }
      char tmp[65536];
      const ssize_t n = ::recv(fd_, tmp, sizeof tmp, 0);
      if (n <= 0) return {};
      buf_.append(tmp, static_cast<std::size_t>(n));
    }
  }
  // Sends all of bytes (ignoring a client that went away).
  void send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }
  // Waits until the client closes (or the timeout passes), dropping what it sends.
  void wait_for_close() {
    char tmp[4096];
    while (::recv(fd_, tmp, sizeof tmp, 0) > 0) {}
  }

 private:
  // The length of the first complete request in b, or 0.
  static std::size_t complete(const std::string& b) {
    const std::size_t head = b.find("\r\n\r\n");
    if (head == std::string::npos) return 0;
    std::string lower = b.substr(0, head);
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (lower.find("transfer-encoding: chunked") != std::string::npos) {
      const std::size_t end = b.find("\r\n0\r\n\r\n", head);
      if (b.compare(head + 4, 5, "0\r\n\r\n") == 0) return head + 9;
      return end == std::string::npos ? 0 : end + 7;
    }
    std::size_t length = 0;
    if (auto p = lower.find("content-length:"); p != std::string::npos) length = std::stoul(lower.substr(p + 15));
    return b.size() >= head + 4 + length ? head + 4 + length : 0;
  }
  int fd_;
  std::string buf_;
};

class raw_upstream {
 public:
  // script(peer, n): runs for the n-th accepted connection (0-based) on a thread of its own.
  explicit raw_upstream(std::function<void(raw_peer&, int)> script) : script_(std::move(script)) {
    lfd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    ::setsockopt(lfd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::bind(lfd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(lfd_, 64) != 0)
      throw std::runtime_error("raw_upstream: bind/listen failed");
    socklen_t len = sizeof a;
    ::getsockname(lfd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }
  raw_upstream(const raw_upstream&) = delete;
  ~raw_upstream() {
    stopping_ = true;
    ::shutdown(lfd_, SHUT_RDWR);
    acceptor_.join();
    {
      std::lock_guard lock(mutex_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
    for (int fd : fds_) ::close(fd);
    ::close(lfd_);
  }

  std::uint16_t port() const noexcept { return port_; }
  // Connections accepted so far.
  int connections() const noexcept { return accepted_.load(); }

 private:
  void accept_loop() {
    for (;;) {
      const int fd = ::accept4(lfd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) {
        if (stopping_ || errno != EINTR) return;
        continue;
      }
      timeval tv{10, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      const int n = accepted_++;
      std::lock_guard lock(mutex_);
      fds_.push_back(fd);
      workers_.emplace_back([this, fd, n] {
        raw_peer p(fd);
        script_(p, n);
        ::shutdown(fd, SHUT_RDWR);  // closed for good in the destructor, so no fd is reused meanwhile
      });
    }
  }

  std::function<void(raw_peer&, int)> script_;
  int lfd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mutex_;
  std::vector<int> fds_;
  std::vector<std::thread> workers_;
};

}  // namespace c10k::testing
