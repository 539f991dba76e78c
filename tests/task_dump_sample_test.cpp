// The sample server's task dump as an operator gets it: SIGUSR1 writes it to stderr while the
// server keeps answering, and --debug-endpoints serves it at /debug/tasks (a child process).
#include <gtest/gtest.h>

#include <signal.h>

#include <atomic>
#include <memory>
#include <regex>
#include <string>
#include <thread>

#include "backend_param.hpp"
#include "child_process.hpp"
#include "http_client.hpp"

using namespace c10k::testing;

namespace {

class task_dump_sample_test : public backend_test {
 protected:
  // Starts c10k-server with --debug-endpoints; returns its port (0: it failed).
  std::uint16_t start_server(std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{C10K_SAMPLE_SERVER, "--host", "127.0.0.1", "--port", "0", "--threads", "2",
                                  "--backend", backend_name(), "--debug-endpoints"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    server_ = std::make_unique<child_process>(argv);
    const std::string port = server_->wait_for("serving http://127\\.0\\.0\\.1:([0-9]+)/");
    return port.empty() ? 0 : static_cast<std::uint16_t>(std::stoi(port));
  }
  std::unique_ptr<child_process> server_;
};

// Requests /plain on one keep-alive connection until told to stop; counts answers and failures.
struct request_loop {
  std::atomic<bool> stop{false};
  std::atomic<int> answered{0};
  std::atomic<int> failed{0};
  std::thread thread;
  explicit request_loop(std::uint16_t port) {
    thread = std::thread([this, port] {
      try {
        http_client c(port);
        while (!stop) {
          c.send(get("/plain"));
          auto r = c.read_reply();
          if (!r || r->status != 200 || r->body != "x") {
            ++failed;
            return;
          }
          ++answered;
        }
      } catch (const std::exception&) {
        ++failed;
      }
    });
  }
  ~request_loop() {
    stop = true;
    thread.join();
  }
};

TEST_P(task_dump_sample_test, sigusr1_dumps_to_stderr_while_requests_keep_being_answered) {
  const std::uint16_t port = start_server();
  ASSERT_NE(port, 0) << server_->output();
  request_loop load(port);
  ASSERT_TRUE(eventually([&] { return load.answered.load() > 50; }));
  http_client waiting(port);
  waiting.send(get("/delay/2000"));
  // The dump is taken after the /delay request reached its handler: asked until it shows.
  std::string line;
  for (int attempt = 0; attempt < 50 && line.empty(); ++attempt) {
    ASSERT_EQ(::kill(server_->pid(), SIGUSR1), 0);
    ASSERT_NE(server_->wait_for("c10k task dump: 2 loop", std::chrono::seconds(10)), "") << server_->output();
    line = server_->wait_for("request \"GET /delay/2000 HTTP/1\\.1\"", std::chrono::milliseconds(300));
  }
  // With what its handler awaits: /delay's timer, and when it ends.
  EXPECT_TRUE(std::regex_search(line, std::regex(R"(in its handler since \d+\.\d{3} s ago, .*; )"
                                                 R"(awaiting sleep \(ends in [0-2]\.\d{3} s\)$)")))
      << server_->output();
  // The load went on through the dumps, without an error.
  const int before = load.answered.load();
  // (Says whether the load's connection failed or stalled: seen once, on a loaded machine, as
  // no progress within 5 s on epoll-et, and not reproduced in 15 runs since.)
  ASSERT_TRUE(eventually([&] { return load.answered.load() > before + 50 || load.failed.load() > 0; }))
      << "answered " << load.answered.load() << " (" << before << " before), failed " << load.failed.load() << "\n"
      << server_->output();
  EXPECT_EQ(load.failed.load(), 0) << server_->output();
  EXPECT_GT(load.answered.load(), before + 50);
}

TEST_P(task_dump_sample_test, debug_tasks_serves_the_dump) {
  const std::uint16_t port = start_server();
  ASSERT_NE(port, 0) << server_->output();
  http_client c(port);
  c.send(get("/debug/tasks"));
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("loop 0: "), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("loop 1: "), std::string::npos) << r->body;
  // The request asking for it is in its handler while the dump is taken.
  EXPECT_NE(r->body.find("request \"GET /debug/tasks HTTP/1.1\""), std::string::npos) << r->body;
}

TEST_P(task_dump_sample_test, debug_tasks_is_off_without_the_flag) {
  server_ = std::make_unique<child_process>(std::vector<std::string>{
      C10K_SAMPLE_SERVER, "--host", "127.0.0.1", "--port", "0", "--threads", "1", "--backend", backend_name()});
  const std::string port = server_->wait_for("serving http://127\\.0\\.0\\.1:([0-9]+)/");
  ASSERT_FALSE(port.empty()) << server_->output();
  http_client c(static_cast<std::uint16_t>(std::stoi(port)));
  c.send(get("/debug/tasks"));
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(task_dump_sample_test);

}  // namespace
