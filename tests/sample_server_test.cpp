// The sample server (build/examples/c10k-server) as a user runs it: a child process with its
// flags, over loopback. C10K_SAMPLE_SERVER is its path (tests/CMakeLists.txt).
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "child_process.hpp"
#include "http_client.hpp"

using c10k::testing::get;
using c10k::testing::http_client;

namespace {

// A running c10k-server: started with `args` (and, when soft_fd_limit is not 0, that soft
// RLIMIT_NOFILE), its first output line read (the start line, or the error before an exit);
// SIGTERM and a bounded wait when destroyed.
class sample_server {
 public:
  explicit sample_server(std::vector<std::string> args, rlim_t soft_fd_limit = 0)
      : child_(with_path(std::move(args)), {}, soft_fd_limit) {
    line_ = child_.wait_for(".", std::chrono::seconds(10));
    const auto at = line_.rfind("]:") != std::string::npos ? line_.rfind("]:") + 2 : line_.find(":", line_.find("//")) + 1;
    if (line_.find("serving http://") != std::string::npos) port_ = static_cast<std::uint16_t>(std::stoi(line_.substr(at)));
  }

  // SIGTERM, then up to 10 s for a graceful exit (SIGKILL after that); returns the exit status.
  int stop() { return child_.stop(); }
  // The exit status of a server that exits by itself (a bad flag), waiting up to 10 s.
  int exit_status() { return child_.exit_status(); }
  std::uint16_t port() const { return port_; }
  const std::string& line() const { return line_; }

 private:
  static std::vector<std::string> with_path(std::vector<std::string> args) {
    args.insert(args.begin(), C10K_SAMPLE_SERVER);
    return args;
  }
  c10k::testing::child_process child_;
  std::uint16_t port_ = 0;
  std::string line_;
};

// True when fd has bytes (or EOF) to read right now.
bool readable_now(int fd) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, 0) > 0;
}

TEST(sample_server, an_ipv6_listen_address_is_printed_in_brackets) {
  const int s = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) GTEST_SKIP() << "no IPv6 here";
  ::close(s);
  sample_server srv({"--host", "::", "--port", "0", "--threads", "1"});
  ASSERT_NE(srv.port(), 0) << srv.line();
  EXPECT_NE(srv.line().find("http://[::]:" + std::to_string(srv.port()) + "/"), std::string::npos) << srv.line();
  sample_server v4({"--host", "127.0.0.1", "--port", "0", "--threads", "1"});
  EXPECT_NE(v4.line().find("http://127.0.0.1:" + std::to_string(v4.port()) + "/"), std::string::npos) << v4.line();
}

// /delay/{ms} is a timer, not a blocked thread: on a single loop, a request that arrives while
// a delay runs is answered first, and the delayed answer is not there yet when it is.
TEST(sample_server, delay_answers_later_without_holding_the_loop) {
  sample_server srv({"--host", "127.0.0.1", "--port", "0", "--threads", "1"});
  ASSERT_NE(srv.port(), 0) << srv.line();
  // The slow one on a raw socket, to look at it without reading.
  const int slow = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_TRUE(c10k::testing::connect_loopback(slow, srv.port()));
  timeval tv{10, 0};
  ::setsockopt(slow, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string ask = get("/delay/2000");
  ASSERT_EQ(::send(slow, ask.data(), ask.size(), MSG_NOSIGNAL), static_cast<ssize_t>(ask.size()));
  http_client quick(srv.port());
  auto q = quick.request(get("/plain"));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->body, "x");
  EXPECT_FALSE(readable_now(slow)) << "the delayed answer came before a later request's";
  std::string answer;
  char buf[4096];
  while (answer.find("delayed 2000 ms\n") == std::string::npos) {
    const ssize_t n = ::recv(slow, buf, sizeof buf, 0);
    if (n <= 0) break;
    answer.append(buf, static_cast<std::size_t>(n));
  }
  ::close(slow);
  EXPECT_EQ(answer.substr(0, 15), "HTTP/1.1 200 OK") << answer;
  EXPECT_NE(answer.find("delayed 2000 ms\n"), std::string::npos) << answer;
  for (std::string bad : {"/delay/60001", "/delay/abc", "/delay/-1", "/delay/12x", "/delay/99999999999999999999"}) {
    auto r = quick.request(get(bad));
    ASSERT_TRUE(r) << bad;
    EXPECT_EQ(r->status, 400) << bad;
  }
  auto zero = quick.request(get("/delay/0"));
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->status, 200);
}

// The timeouts are flags in seconds, as nginx takes them.
TEST(sample_server, header_and_body_timeouts_are_flags_in_seconds) {
  sample_server srv({"--host", "127.0.0.1", "--port", "0", "--threads", "1", "--header-timeout", "1", "--body-timeout",
                     "1", "--send-timeout", "3", "--keepalive-timeout", "5"});
  ASSERT_NE(srv.port(), 0) << srv.line();
  http_client head(srv.port()), body(srv.port());
  head.send("GET /plain HTTP/1.1\r\nHost: a\r\n");  // never finished: 408 after 1 s, not the default 10 s
  body.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nx");
  auto h = head.read_reply();  // the client gives up after 10 s
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 408);
  auto b = body.read_reply();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, 408);

  sample_server bad({"--port", "0", "--send-timeout", "soon"});
  EXPECT_EQ(bad.exit_status(), 2) << bad.line();
}

// Ten thousand idle keep-alive connections held (by this process: the server is another one,
// each has its own fd limit), then 64 more must be served with the default flags. Once, the
// default cap of exactly 10,000 refused every one of them; and the server is started with a
// soft fd limit of 1,024, which it must raise to the hard limit itself.
TEST(sample_server, ten_thousand_idle_connections_leave_room_for_more) {
  constexpr int idle = 10'000, more = 64;
  rlimit rl{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  const rlim_t need = idle + more + 200;
  if (rl.rlim_max < need + need / 19 + 64)
    GTEST_SKIP() << "the hard fd limit (" << rl.rlim_max << ") is too low for " << idle << " connections";
  rlimit raised = rl;
  raised.rlim_cur = rl.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0);

  sample_server srv({"--host", "127.0.0.1", "--port", "0"}, /*soft_fd_limit=*/1024);
  ASSERT_NE(srv.port(), 0) << srv.line();
  std::vector<http_client> held;
  held.reserve(idle);
  // In batches: connect and send, then read every answer, so each connection is known to be
  // accepted and served, then left idle (the keep-alive timeout is 60 s).
  for (int start = 0; start < idle; start += 1000) {
    for (int i = start; i < start + 1000; ++i) {
      held.emplace_back(srv.port());
      held.back().send(get("/plain"));
    }
    for (int i = start; i < start + 1000; ++i) {
      auto r = held[static_cast<std::size_t>(i)].read_reply();
      ASSERT_TRUE(r) << "idle connection " << i << " was refused; " << srv.line();
      ASSERT_EQ(r->status, 200);
    }
  }
  std::vector<http_client> extra;
  for (int i = 0; i < more; ++i) {
    extra.emplace_back(srv.port());
    auto r = extra.back().request(get("/plain"));
    ASSERT_TRUE(r) << "connection " << idle + i + 1 << " was refused; " << srv.line();
    EXPECT_EQ(r->status, 200);
  }
  auto stats = extra.back().request(get("/stats"));
  ASSERT_TRUE(stats);
  const auto at = stats->body.find("\"connections\":");
  ASSERT_NE(at, std::string::npos) << stats->body;
  EXPECT_GE(std::stoul(stats->body.substr(at + 14)), static_cast<unsigned long>(idle + more));
  ::setrlimit(RLIMIT_NOFILE, &rl);
}

}  // namespace
