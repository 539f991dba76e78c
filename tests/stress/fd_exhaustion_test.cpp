// A full fd table on every backend (io_uring included: the table is filled, not the limit
// lowered under an armed accept): while accept() meets EMFILE the connections already open
// keep being served, and once fds are free again the connections that waited in the backlog
// are accepted and answered; twice, so that accepting pauses and resumes more than once.
// (tests/http_limits_test.cpp checks that the pause does not spin and is logged once.)
#include <dirent.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "stress_fixture.hpp"

using namespace c10k;
using namespace c10k::stress;
using namespace std::chrono_literals;
using c10k::testing::get;
using c10k::testing::http_client;

namespace {

// The highest fd open in this process, or -1.
int highest_open_fd() {
  int highest = -1;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (dirent* e = ::readdir(d)) highest = std::max(highest, std::atoi(e->d_name));
    ::closedir(d);
  }
  return highest;
}

// Lowers the soft RLIMIT_NOFILE for one test, and restores it.
class fd_limit {
 public:
  explicit fd_limit(rlim_t soft) {
    ::getrlimit(RLIMIT_NOFILE, &saved_);
    rlimit l = saved_;
    l.rlim_cur = std::min(soft, saved_.rlim_max);
    ok_ = ::setrlimit(RLIMIT_NOFILE, &l) == 0;
  }
  fd_limit(const fd_limit&) = delete;
  ~fd_limit() { ::setrlimit(RLIMIT_NOFILE, &saved_); }
  bool ok() const { return ok_; }

 private:
  rlimit saved_{};
  bool ok_ = false;
};

// Takes every free fd (copies of /dev/null) until the table is full; gives them back on release().
class fd_hog {
 public:
  // Fills the table; returns false when the process could not be made to run out (no EMFILE).
  bool fill() {
    const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (null < 0) return false;
    held_.push_back(null);
    for (;;) {
      const int fd = ::fcntl(null, F_DUPFD_CLOEXEC, 0);
      if (fd < 0) return errno == EMFILE;
      held_.push_back(fd);
    }
  }
  void release() {
    for (int fd : held_) ::close(fd);
    held_.clear();
  }
  ~fd_hog() { release(); }
  std::size_t held() const { return held_.size(); }

 private:
  std::vector<int> held_;
};

class stress_fd : public stress_test {};

// One request of a kind chosen by i on c, checked.
void checked_request(http_client& c, unsigned i) {
  static const char* const paths[] = {"/hello", "/sleep/1", "/fiber/1", "/offload/1", "/stream/50", "/big/64"};
  if (i % 7 == 6) {
    const std::string body(1000 + i, 'e');
    auto r = c.request("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    ASSERT_TRUE(r) << "POST /echo went unanswered while the fd table was full";
    EXPECT_EQ(r->body, body);
    return;
  }
  const char* path = paths[i % 6];
  auto r = c.request(get(path));
  ASSERT_TRUE(r) << path << " went unanswered while the fd table was full";
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, expected_body(path)) << path;
}

}  // namespace

TEST_P(stress_fd, a_full_fd_table_leaves_open_connections_served_and_accepting_resumes_when_fds_free_up) {
#ifdef C10K_SANITIZED
  GTEST_SKIP() << "UBSan's vptr check probes memory through a pipe, which needs a free fd; a full table makes it "
                  "report every virtual call";
#endif
  watchdog guard("fd exhaustion on " + backend_name(), std::chrono::seconds(120));
  // A low limit, set before the server starts (io_uring's multishot accept is armed under it),
  // with room for the server, the open connections and the sockets that will wait.
  const int highest = highest_open_fd();
  ASSERT_GE(highest, 0);
  fd_limit limit(static_cast<rlim_t>(highest) + 1 + 200);
  if (!limit.ok()) GTEST_SKIP() << "cannot lower RLIMIT_NOFILE here";
  auto srv = start();
  const std::size_t open_count = 20, waiting_count = 10;
  std::vector<http_client> open;
  for (std::size_t i = 0; i < open_count; ++i) {
    open.emplace_back(srv->port());
    ASSERT_TRUE(open.back().request(get("/hello")));
  }
  const std::size_t rounds = scaled(20, 4);
  for (int cycle = 0; cycle < 2; ++cycle) {
    SCOPED_TRACE("cycle " + std::to_string(cycle));
    // The last cycle's connections are closed on this side; once the server has seen it, its
    // fds are free again and none of them frees up while the table is full.
    ASSERT_TRUE(c10k::testing::eventually([&] { return srv->connection_count() == open_count; }, 10s));
    // Sockets made now, connected once the table is full: only the server's accept then
    // needs an fd. The kernel completes their handshakes into the backlog.
    std::vector<int> waiting;
    for (std::size_t i = 0; i < waiting_count; ++i) waiting.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    fd_hog hog;
    ASSERT_TRUE(hog.fill()) << "the fd table did not fill";
    for (int fd : waiting) {
      ASSERT_TRUE(c10k::testing::connect_loopback(fd, srv->port()));
      const std::string req = get("/hello");
      ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    }
    // The open connections are served all the while accept() fails.
    for (std::size_t round = 0; round < rounds; ++round)
      for (std::size_t i = 0; i < open.size(); ++i) checked_request(open[i], static_cast<unsigned>(round * open.size() + i));
    EXPECT_EQ(srv->stats().connections, open_count) << "a connection was accepted while no fd was free";
    hog.release();

    // Room again: every waiting connection is accepted and answered.
    for (int fd : waiting) {
      timeval tv{10, 0};
      ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      std::string got;
      char buf[1024];
      while (got.find("hello\n") == std::string::npos) {
        const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got.append(buf, static_cast<std::size_t>(n));
      }
      EXPECT_EQ(got.substr(0, 12), "HTTP/1.1 200") << "a connection that waited for an fd was not answered";
      ::close(fd);
    }
  }
  open.clear();
  expect_idle_and_serving(*srv);
  srv->stop();
  srv->wait();
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(stress_fd);
