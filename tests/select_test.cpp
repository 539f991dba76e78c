// The select backend's FD_SETSIZE limit, and a request that trickles in byte by byte (on every
// backend: each byte is one more wait for readiness).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "backend_param.hpp"
#include "http_client.hpp"
#include "c10k/log.hpp"
#include "c10k/tcp_listener.hpp"
#include "c10k/tcp_stream.hpp"
#include "c10k/time.hpp"

using namespace c10k;
using namespace std::chrono_literals;

namespace {

// Raises the soft RLIMIT_NOFILE to the hard limit for one test and restores it afterwards.
class raised_fd_limit {
 public:
  raised_fd_limit() {
    if (::getrlimit(RLIMIT_NOFILE, &old_) < 0) return;
    rlimit raised = old_;
    raised.rlim_cur = old_.rlim_max;
    ok_ = ::setrlimit(RLIMIT_NOFILE, &raised) == 0;
  }
  ~raised_fd_limit() {
    if (ok_) ::setrlimit(RLIMIT_NOFILE, &old_);
  }
  raised_fd_limit(const raised_fd_limit&) = delete;
  raised_fd_limit& operator=(const raised_fd_limit&) = delete;

  // True when fds at and above FD_SETSIZE can now be opened.
  bool allows_fd_setsize() const {
    return ok_ && (old_.rlim_max == RLIM_INFINITY || old_.rlim_max > static_cast<rlim_t>(FD_SETSIZE));
  }
  rlim_t hard() const { return old_.rlim_max; }

 private:
  rlimit old_{};
  bool ok_ = false;
};

bool is_open(int fd) { return ::fcntl(fd, F_GETFD) >= 0; }

// Moves fd onto the first free descriptor at or above FD_SETSIZE; returns it, or -1.
int move_above_fd_setsize(int fd) {
  int target = FD_SETSIZE;
  while (is_open(target)) ++target;
  int moved = ::dup3(fd, target, O_CLOEXEC);
  ::close(fd);
  return moved;
}

// Collects log lines for the lifetime of the object.
class log_capture {
 public:
  log_capture() {
    previous_ = set_log_sink([this](log_level level, std::string_view line) {
      if (level == log_level::warning) warnings.emplace_back(line);
    });
  }
  ~log_capture() { set_log_sink(previous_); }
  std::vector<std::string> warnings;

 private:
  log_sink previous_;
};

// Checks that the loop still waits for I/O: a read that must wait for a later write.
void expect_loop_still_serves_io(event_loop& loop) {
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  auto s = tcp_stream::adopt(loop, sv[0]);
  ASSERT_TRUE(s) << s.error().message();
  loop.spawn([](int peer) -> task<void> {
    co_await sleep_for(5ms);
    (void)::write(peer, "x", 1);
  }(sv[1]));
  auto got = loop.block_on([](tcp_stream& s) -> task<std::string> {
    std::array<char, 8> buf;
    auto n = co_await with_timeout(10s, s.read(buf));
    if (!n) co_return "error: " + n.error().message();
    co_return std::string(buf.data(), *n);
  }(*s));
  EXPECT_EQ(got, "x");
  ::close(sv[1]);
}

}  // namespace

TEST(select_backend, refuses_a_stream_at_fd_setsize_and_closes_it) {
  raised_fd_limit limit;
  if (!limit.allows_fd_setsize())
    GTEST_SKIP() << "RLIMIT_NOFILE's hard limit " << limit.hard() << " does not reach above FD_SETSIZE ("
                 << FD_SETSIZE << "), or the soft limit could not be raised";
  event_loop loop("select");
  int sv[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
  const int big = move_above_fd_setsize(sv[0]);
  ASSERT_GE(big, FD_SETSIZE) << std::strerror(errno);

  log_capture logs;
  auto s = tcp_stream::adopt(loop, big);
  ASSERT_FALSE(s);
  EXPECT_EQ(s.error(), std::errc::value_too_large);
  errno = 0;
  EXPECT_EQ(::fcntl(big, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
  ASSERT_EQ(logs.warnings.size(), 1u);
  EXPECT_NE(logs.warnings[0].find(std::to_string(big)), std::string::npos) << logs.warnings[0];
  EXPECT_NE(logs.warnings[0].find("FD_SETSIZE"), std::string::npos) << logs.warnings[0];
  ::close(sv[1]);

  EXPECT_TRUE(loop.block_on(sleep_for(1ms)));
  expect_loop_still_serves_io(loop);
}

TEST(select_backend, refuses_a_listener_at_fd_setsize_and_closes_it) {
  raised_fd_limit limit;
  if (!limit.allows_fd_setsize())
    GTEST_SKIP() << "RLIMIT_NOFILE's hard limit " << limit.hard() << " does not reach above FD_SETSIZE ("
                 << FD_SETSIZE << "), or the soft limit could not be raised";
  event_loop loop("select");
  auto fd = tcp_listener::bind_socket(address::loopback(0), {});
  ASSERT_TRUE(fd) << fd.error().message();
  const int big = move_above_fd_setsize(*fd);
  ASSERT_GE(big, FD_SETSIZE) << std::strerror(errno);

  log_capture logs;
  auto l = tcp_listener::adopt(loop, big, {});
  ASSERT_FALSE(l);
  EXPECT_EQ(l.error(), std::errc::value_too_large);
  errno = 0;
  EXPECT_EQ(::fcntl(big, F_GETFD), -1);
  EXPECT_EQ(errno, EBADF);
  ASSERT_EQ(logs.warnings.size(), 1u);
  EXPECT_NE(logs.warnings[0].find(std::to_string(big)), std::string::npos) << logs.warnings[0];

  EXPECT_TRUE(loop.block_on(sleep_for(1ms)));
  expect_loop_still_serves_io(loop);
}

namespace {

class trickle_test : public c10k::testing::backend_test {};

// Reads until the end of a request head, then answers "ok"; returns what it read, or the error.
task<std::string> serve_one_head(tcp_listener& l, int& reads) {
  auto s = co_await l.accept();
  if (!s) co_return "accept failed: " + s.error().message();
  std::string got;
  std::array<char, 256> buf;
  while (got.find("\r\n\r\n") == std::string::npos) {
    auto n = co_await s->read(buf);
    if (!n) co_return "read failed: " + n.error().message();
    if (*n == 0) co_return "eof after: " + got;
    ++reads;
    got.append(buf.data(), *n);
  }
  if (auto w = co_await s->write_all("ok"); !w) co_return "write failed: " + w.error().message();
  co_return got;
}

// Connects, sends `request` one byte per millisecond, and returns what the server sent until
// "ok" or its close (or an error note); every receive times out after 10 s.
std::string trickle_client(std::uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "socket failed";
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // one segment per byte
  std::string out;
  if (!c10k::testing::connect_loopback(fd, port)) {
    out = "connect failed";
  } else {
    // Timeouts only after connecting: with them set, an interrupted connect fails with EINTR.
    timeval tv{10, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    for (char c : request) {
      ssize_t n;
      do n = ::send(fd, &c, 1, MSG_NOSIGNAL);
      while (n < 0 && errno == EINTR);
      if (n != 1) {
        out = "send failed";
        break;
      }
      std::this_thread::sleep_for(1ms);
    }
    char buf[64];
    // Stop at "ok" rather than at the close: this test is about the request, and a backend may
    // close asynchronously.
    while (out != "send failed" && out.find("ok") == std::string::npos) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;  // io_uring task work can interrupt a timed recv
      if (n < 0) out += "(recv failed: " + std::string(std::strerror(errno)) + ")";
      if (n <= 0) break;
      out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  return out;
}

}  // namespace

TEST_P(trickle_test, a_request_sent_in_many_pieces_is_served) {
  event_loop loop(backend_name());
  auto l = tcp_listener::bind(address::loopback(0), {}, loop);
  ASSERT_TRUE(l) << l.error().message();
  const std::string request = "GET /slow HTTP/1.1\r\nHost: localhost\r\nX-Pieces: many\r\n\r\n";
  std::string reply;
  std::thread client([&, port = l->local_address().port()] { reply = trickle_client(port, request); });
  int reads = 0;
  // The timeout ends the server's wait if a byte is never reported, so a lost wake-up fails.
  auto got = loop.block_on([](tcp_listener& l, int& reads) -> task<std::string> {
    co_return co_await with_timeout(10s, serve_one_head(l, reads));
  }(*l, reads));
  client.join();
  EXPECT_EQ(got, request);
  EXPECT_EQ(reply, "ok");
  EXPECT_GT(reads, 1);  // it really arrived in pieces, each one waited for
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(trickle_test);
