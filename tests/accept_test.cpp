// Accepting under pressure: the connection cap against a burst, the cap derived from the fd
// limit, and a start() that fails on a later loop.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "backend_param.hpp"
#include "c10k/backend.hpp"
#include "c10k/http/server.hpp"
#include "c10k/log.hpp"
#include "http_client.hpp"
#include "test_server.hpp"

using namespace c10k;
using c10k::testing::get;
using c10k::testing::http_client;

namespace {

class accept_test : public c10k::testing::backend_test {};

// Sixteen connections arrive while the only loop is held in a handler (a deterministic hook:
// the test blocks the loop thread on purpose, so the kernel queues the whole burst), then the
// loop accepts them in one go. Once, each was spawned before the first one counted itself, so
// all sixteen were served over a cap of four. Every one that is served reports how many
// connections were open then; none may see more than the cap. And the cap is logged once, not
// once per refused connection.
TEST_P(accept_test, a_burst_never_takes_more_than_max_connections) {
  constexpr std::size_t cap = 4;
  constexpr int burst = 16;
  std::vector<std::string> lines;
  std::mutex lines_mutex;
  auto previous = set_log_sink([&](log_level, std::string_view line) {
    std::lock_guard lock(lines_mutex);
    lines.emplace_back(line);
  });
  std::promise<void> entered, release;
  std::shared_future<void> released = release.get_future().share();
  std::atomic<http::server*> self{nullptr};
  http::router r;
  r.get("/block", [&entered, released](http::request&) -> task<http::response> {
    entered.set_value();
    released.wait();  // holds the loop thread: the burst queues in the kernel meanwhile
    co_return http::response::text(200, "released\n");
  });
  r.get("/count", [&self](http::request&) -> task<http::response> {
    co_return http::response::text(200, std::to_string(self.load()->connection_count()));
  });
  auto srv = c10k::testing::start_test_server(std::move(r), backend_name(), {.threads = 1, .max_connections = cap});
  self = srv.get();

  http_client blocker(srv->port());
  blocker.send(get("/block"));
  entered.get_future().wait();
  std::vector<http_client> clients;
  for (int i = 0; i < burst; ++i) {
    clients.emplace_back(srv->port());
    clients.back().send(get("/count"));
  }
  release.set_value();
  auto b = blocker.read_reply();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, 200);

  int served = 0;
  for (auto& c : clients) {
    auto reply = c.read_reply();
    if (!reply) continue;  // closed at accept
    ++served;
    EXPECT_EQ(reply->status, 200);
    EXPECT_LE(std::stoul(reply->body), cap) << "a connection was served over the cap";
  }
  EXPECT_EQ(served, static_cast<int>(cap) - 1) << "the blocker holds one of the " << cap << " slots";
  set_log_sink(previous);
  std::lock_guard lock(lines_mutex);
  int cap_lines = 0;
  for (const auto& l : lines) cap_lines += l.find("max_connections") != std::string::npos;
  EXPECT_EQ(cap_lines, 1) << "refused " << burst - served << " connections";
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(accept_test);

// The default cap comes from the fd limit, less a reserve for everything else (5%, at least 64),
// instead of a fixed 10,000 that refused the 10,001st connection with fds to spare.
TEST(accept_cap, the_default_cap_is_what_the_fd_limit_leaves) {
  rlimit rl{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &rl), 0);
  http::router r;
  auto srv = c10k::testing::start_test_server(std::move(r), "epoll");
  const std::size_t soft = rl.rlim_cur;
  EXPECT_EQ(srv->max_connections(), soft - std::max<std::size_t>(64, soft / 20));
  auto capped = c10k::testing::start_test_server(http::router{}, "epoll", {.max_connections = 7});
  EXPECT_EQ(capped->max_connections(), 7u);
}

// start() with four loops on the select backend, which can only watch fds below FD_SETSIZE:
// every fd number below it is taken but six, so the four listeners (bound first, in start())
// get four, the runtime's own eventfd one, and the loops' wake-up eventfds race for the last
// one. Exactly one loop starts (checked through the select backend's log lines); the
// other three fail (their eventfd is past FD_SETSIZE), deterministically and with plenty of fds
// above (no fd limit is lowered, so nothing else in the process starves). runtime::start stops
// and destroys the loop that started, but its listener lived on in the server, pointing at a
// dead loop: the port stayed taken, stats() read a freed backend, and the destructor (or a
// second start()) closed it through freed memory (AddressSanitizer: heap-use-after-free). Now
// start() fails cleanly, the port is free, and the server starts again.
TEST(accept_start, a_start_that_fails_on_a_later_loop_leaves_nothing_behind) {
  constexpr unsigned loops = 4;
  {
    ready_queue q;
    if (auto b = make_exact_backend("select", q); !b) GTEST_SKIP() << "no select backend: " << b.error().message();
  }
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  if (saved.rlim_max < FD_SETSIZE + 256) GTEST_SKIP() << "the hard fd limit is too low to fill the fds below FD_SETSIZE";
  rlimit raised = saved;
  raised.rlim_cur = saved.rlim_max;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &raised), 0);

  http::router r;
  r.get("/plain", [](http::request&) -> task<http::response> { co_return http::response::text(200, "x"); });
  http::server srv(std::move(r), {.host = "127.0.0.1", .port = 0, .threads = loops, .backend = "select"});

  // Fill every free fd below FD_SETSIZE but loops + 2 of them.
  const int null = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ASSERT_GE(null, 0);
  std::vector<int> fillers;
  int left_free = 0;
  for (int fd = 0; fd < FD_SETSIZE; ++fd) {
    if (::fcntl(fd, F_GETFD) >= 0 || errno != EBADF) continue;
    if (left_free < static_cast<int>(loops) + 2) {
      ++left_free;
      continue;
    }
    ASSERT_EQ(::dup3(null, fd, O_CLOEXEC), fd);
    fillers.push_back(fd);
  }
  ASSERT_EQ(left_free, static_cast<int>(loops) + 2);
  std::vector<std::string> lines;
  std::mutex lines_mutex;
  auto previous = set_log_sink([&](log_level, std::string_view line) {
    std::lock_guard lock(lines_mutex);
    lines.emplace_back(line);
  });
  auto started = srv.start();
  set_log_sink(previous);
  for (int fd : fillers) ::close(fd);
  ::close(null);
  ASSERT_FALSE(started) << "every loop started";
  int refused = 0;
  for (const auto& l : lines) refused += l.find("wake-up eventfd") != std::string::npos;
  ASSERT_EQ(refused, static_cast<int>(loops) - 1) << "not the case under test: one loop must start, the others fail";
  EXPECT_EQ(started.error(), std::errc::value_too_large) << started.error().message();

  EXPECT_EQ(srv.stats().connections, 0u);
  // No listener is left on the port: a plain bind (no SO_REUSEPORT) to it succeeds.
  const int probe = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(srv.port());
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(probe, reinterpret_cast<sockaddr*>(&a), sizeof a), 0) << "a listener outlived its loop";
  ::close(probe);

  auto again = srv.start();
  ASSERT_TRUE(again) << again.error().message();
  http_client c(srv.port());
  auto reply = c.request(get("/plain"));
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->body, "x");
  srv.stop();
  srv.wait();
  ::setrlimit(RLIMIT_NOFILE, &saved);
}

}  // namespace
