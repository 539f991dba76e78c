// The task dump (server::dump_tasks) and the stall watchdog (server_options::stall_threshold),
// over real sockets on every backend (and on fibers: tests/CMakeLists.txt runs it again with
// C10K_TEST_FIBER_CONNECTIONS=1).
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <regex>
#include <string>
#include <vector>

#include "backend_param.hpp"
#include "c10k/fiber.hpp"
#include "c10k/log.hpp"
#include "c10k/tcp_stream.hpp"
#include "c10k/time.hpp"
#include "http_client.hpp"
#include "test_server.hpp"

using namespace c10k;
using namespace c10k::testing;

namespace {

bool fiber_mode() {
  const char* f = std::getenv("C10K_TEST_FIBER_CONNECTIONS");
  return f && std::string_view(f) == "1";
}

// Collects the log lines that contain `needle` (the watchdog logs from its own thread).
class log_capture {
 public:
  explicit log_capture(std::string needle) : needle_(std::move(needle)) {
    previous_ = set_log_sink([this](log_level, std::string_view line) {
      if (line.find(needle_) == std::string_view::npos) return;
      std::lock_guard lock(mutex_);
      lines_.emplace_back(line);
    });
  }
  ~log_capture() { set_log_sink(std::move(previous_)); }
  std::vector<std::string> lines() {
    std::lock_guard lock(mutex_);
    return lines_;
  }

 private:
  std::string needle_;
  log_sink previous_;
  std::mutex mutex_;
  std::vector<std::string> lines_;
};

// A gate a handler blocks its loop thread on (the classic blocking call) until the test opens it.
struct gate {
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  std::atomic<int> entered{0};
  void wait() {
    ++entered;
    std::unique_lock lock(mutex);
    cv.wait(lock, [this] { return open; });
  }
  void release() {
    {
      std::lock_guard lock(mutex);
      open = true;
    }
    cv.notify_all();
  }
};

class task_dump_test : public backend_test {};

TEST_P(task_dump_test, shows_a_waiting_handler_with_its_request_and_an_idle_connection_with_its_deadline) {
  std::atomic<int> waiting{0};
  http::router routes;
  routes.get("/x", [](http::request&) -> task<http::response> { co_return http::response::text(200, "x"); });
  routes.get("/delay", [&waiting](http::request&) -> task<http::response> {
    ++waiting;
    co_await sleep_for(std::chrono::seconds(30));  // ended by the drain timeout at the test's end
    co_return http::response::text(200, "late");
  });
  auto srv = start_test_server(std::move(routes), backend_name(),
                               {.keepalive_timeout = std::chrono::seconds(30), .drain_timeout = std::chrono::milliseconds(50)});

  http_client idle(srv->port());
  idle.send(get("/x"));
  auto r = idle.read_reply();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  http_client waiter(srv->port());
  waiter.send(get("/delay?who=me"));
  ASSERT_TRUE(eventually([&] { return waiting.load() == 1; }));

  const std::string dump = srv->dump_tasks();
  SCOPED_TRACE(dump);
  EXPECT_NE(dump.find("loop 0: "), std::string::npos);
  EXPECT_NE(dump.find("2 connection(s)"), std::string::npos);
  // The handler: its phase, since when, no connection deadline, its request line, its peer.
  EXPECT_TRUE(std::regex_search(dump, std::regex(R"(connection fd \d+ peer 127\.0\.0\.1:\d+, 0 request\(s\) served.*: )"
                                                 R"(in its handler since \d+\.\d{3} s ago, no deadline; )"
                                                 R"(request "GET /delay\?who=me HTTP/1\.1")")));
  // The idle keep-alive connection: the receive it waits in, and keepalive_timeout's deadline.
  EXPECT_TRUE(std::regex_search(dump, std::regex(R"(1 request\(s\) served.*: idle, waiting for a next request \(receive\) )"
                                                 R"(since \d+\.\d{3} s ago, deadline in (29|30)\.\d{3} s\n)")));
  if (fiber_mode()) {
    EXPECT_TRUE(std::regex_search(dump, std::regex(R"(on fiber \d+ "http connection")")));
    EXPECT_TRUE(std::regex_search(dump, std::regex(R"(\n  fiber \d+ "http connection": parked\n)")));
  }
}

// Waits for a dump of srv that matches `pattern` (a handler has reached its wait by then);
// returns the last dump taken.
std::string dump_matching(http::server& srv, const std::regex& pattern) {
  std::string dump;
  (void)eventually([&] {
    dump = srv.dump_tasks();
    return std::regex_search(dump, pattern);
  });
  return dump;
}

TEST_P(task_dump_test, shows_what_a_handler_awaits_and_its_request_deadline) {
  std::atomic<int> waiting{0};
  http::router routes;
  routes.get("/delay", [&waiting](http::request&) -> task<http::response> {
    ++waiting;
    co_await sleep_for(std::chrono::seconds(30));  // ended by the request deadline or the drain
    co_return http::response::text(200, "late");
  });
  auto srv = start_test_server(std::move(routes), backend_name(),
                               {.request_timeout = std::chrono::seconds(20), .drain_timeout = std::chrono::milliseconds(50)});
  http_client c(srv->port());
  c.send(get("/delay"));
  ASSERT_TRUE(eventually([&] { return waiting.load() == 1; }));
  // The handler is suspended in its sleep by the time the loop runs the dump (the dump is a
  // function queued on that loop after the handler's turn).
  const std::string dump = srv->dump_tasks();
  SCOPED_TRACE(dump);
  EXPECT_TRUE(std::regex_search(dump, std::regex(R"(in its handler since \d+\.\d{3} s ago, no deadline; request "GET /delay HTTP/1\.1"; )"
                                                 R"(request deadline in (19|20)\.\d{3} s; )"
                                                 R"(awaiting sleep \(ends in (29|30)\.\d{3} s, deadline in (19|20)\.\d{3} s\)\n)")));
}

TEST_P(task_dump_test, shows_a_handler_reading_from_an_upstream_under_its_timeout) {
  // An upstream that accepts (the kernel's backlog does) and never answers.
  const int lfd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(lfd, 0);
  struct closer {
    int fd;
    ~closer() { ::close(fd); }
  } close_at_end{lfd};
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  ASSERT_EQ(::bind(lfd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(lfd, 8), 0);
  ASSERT_EQ(::getsockname(lfd, reinterpret_cast<sockaddr*>(&a), &len), 0);
  const std::uint16_t upstream_port = ntohs(a.sin_port);

  http::router routes;
  routes.get("/proxy", [upstream_port](http::request&) -> task<http::response> {
    auto s = co_await connect(address::loopback(upstream_port));
    if (!s) co_return http::response::text(502, "connect");
    std::array<char, 64> buf;
    auto n = co_await with_timeout(std::chrono::seconds(25), s->read(buf));  // ended by the drain
    co_return http::response::text(n ? 200 : 504, "upstream");
  });
  auto srv = start_test_server(std::move(routes), backend_name(), {.drain_timeout = std::chrono::milliseconds(50)});
  http_client c(srv->port());
  c.send(get("/proxy"));
  const std::regex wanted(R"(request "GET /proxy HTTP/1\.1"; awaiting read on fd \d+ \(deadline in (24|25)\.\d{3} s\)\n)");
  const std::string dump = dump_matching(*srv, wanted);
  EXPECT_TRUE(std::regex_search(dump, wanted)) << dump;
}

TEST_P(task_dump_test, shows_what_a_blocking_handler_awaits_on_its_fiber) {
  std::atomic<int> waiting{0};
  http::router routes;
  routes.add("GET", "/nap", http::blocking_handler([&waiting](http::request&) {
               ++waiting;
               (void)fiber::sleep_for(std::chrono::seconds(30));  // ended by the drain
               return http::response::text(200, "rested");
             }));
  auto srv = start_test_server(std::move(routes), backend_name(), {.drain_timeout = std::chrono::milliseconds(50)});
  http_client c(srv->port());
  c.send(get("/nap"));
  ASSERT_TRUE(eventually([&] { return waiting.load() == 1; }));
  const std::regex wanted(R"(request "GET /nap HTTP/1\.1"; awaiting sleep \(ends in (29|30)\.\d{3} s\)\n)");
  const std::string dump = dump_matching(*srv, wanted);
  EXPECT_TRUE(std::regex_search(dump, wanted)) << dump;
}

TEST_P(task_dump_test, shows_a_request_head_under_way_with_its_bytes_so_far) {
  auto srv = start_test_server(http::router{}, backend_name(), {.header_timeout = std::chrono::seconds(20)});
  http_client slow(srv->port());
  slow.send("GET /slow HTTP/1.1\r\nHost: x\r\n");  // no end of head yet
  std::string dump;
  ASSERT_TRUE(eventually([&] {
    dump = srv->dump_tasks();
    return dump.find("reading a request head") != std::string::npos;
  }));
  SCOPED_TRACE(dump);
  EXPECT_TRUE(std::regex_search(dump, std::regex(R"(reading a request head \(receive\), 29 byte\(s\) so far, since \d+\.\d{3} s ago, )"
                                                 R"(deadline in (19|20)\.\d{3} s)")));
}

TEST_P(task_dump_test, every_loop_answers_and_a_blocked_loop_shows_as_stalled_and_is_reported_once) {
  gate g;
  http::router routes;
  routes.get("/x", [](http::request&) -> task<http::response> { co_return http::response::text(200, "x"); });
  routes.get("/block", [&g](http::request&) -> task<http::response> {
    g.wait();  // blocks the loop thread, as a blocking call in a handler would
    co_return http::response::text(200, "unblocked");
  });
  log_capture stalls("stall: loop");
  auto srv = start_test_server(std::move(routes), backend_name(), {.threads = 2, .stall_threshold = std::chrono::milliseconds(100)});
  struct releaser {  // a failed assertion must not leave the loop blocked for the teardown
    gate& g;
    ~releaser() { g.release(); }
  } release_at_end{g};
  EXPECT_NE(srv->dump_tasks().find("loop 1: "), std::string::npos);

  http_client blocked(srv->port());
  blocked.send(get("/block?n=1"));
  ASSERT_TRUE(eventually([&] { return g.entered.load() == 1; }));
  const std::string dump = srv->dump_tasks(std::chrono::milliseconds(50));
  EXPECT_TRUE(std::regex_search(dump, std::regex(R"(loop \d: no answer within 50 ms \(stalled\?\))"))) << dump;
  ASSERT_TRUE(eventually([&] { return !stalls.lines().empty(); }));
  g.release();
  auto r = blocked.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  // More requests on the same loop, once unblocked: the stall is not reported again.
  for (int i = 0; i < 20; ++i) {
    blocked.send(get("/x"));
    ASSERT_TRUE(blocked.read_reply());
  }
  auto lines = stalls.lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_TRUE(std::regex_search(lines[0], std::regex(R"(stall: loop \d has not come back to its poll for \d+ ms, )"
                                                     R"(running the handler of "GET /block\?n=1" on fd \d+)")))
      << lines[0];
}

TEST_P(task_dump_test, the_watchdog_reports_nothing_while_no_handler_blocks) {
  http::router routes;
  routes.get("/x", [](http::request&) -> task<http::response> { co_return http::response::text(200, "x"); });
  log_capture stalls("stall: loop");
  // A threshold no normal request comes near, even on a loaded machine.
  auto srv = start_test_server(std::move(routes), backend_name(), {.stall_threshold = std::chrono::milliseconds(250)});
  http_client c(srv->port());
  for (int i = 0; i < 300; ++i) {
    c.send(get("/x"));
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
  }
  srv->stop();
  srv->wait();
  EXPECT_TRUE(stalls.lines().empty()) << stalls.lines().front();
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(task_dump_test);

}  // namespace
