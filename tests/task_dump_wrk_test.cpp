// The task dump under real load: wrk keeps a few connections busy on the sample server while
// SIGUSR1 asks for a dump several times; every dump must appear on the server's stderr, show
// wrk's connections, and cost wrk no error and no failed response (both child processes).
#include <gtest/gtest.h>

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "backend_param.hpp"
#include "child_process.hpp"

using namespace c10k::testing;

namespace {

constexpr const char* wrk_path = "/usr/bin/wrk";

class task_dump_wrk_test : public backend_test {
 protected:
  // Starts c10k-server with two loops in `mode`; returns its port (0: it failed).
  std::uint16_t start_server(const std::string& mode) {
    server_ = std::make_unique<child_process>(std::vector<std::string>{
        C10K_SAMPLE_SERVER, "--host", "127.0.0.1", "--port", "0", "--threads", "2", "--backend", backend_name(),
        "--mode", mode});
    const std::string port = server_->wait_for("serving http://127\\.0\\.0\\.1:([0-9]+)/");
    return port.empty() ? 0 : static_cast<std::uint16_t>(std::stoi(port));
  }

  // Asks for one dump (SIGUSR1) and reads it; returns the connections its two loops list, or
  // -1 when it did not appear within the limit.
  int dump_once() {
    if (::kill(server_->pid(), SIGUSR1) != 0) return -1;
    if (server_->wait_for("^c10k task dump: 2 loop\\(s\\)$", std::chrono::seconds(10)).empty()) return -1;
    int connections = 0;
    for (const char* loop : {"^loop 0: .*, ([0-9]+) connection\\(s\\)", "^loop 1: .*, ([0-9]+) connection\\(s\\)"}) {
      const std::string n = server_->wait_for(loop, std::chrono::seconds(10));
      if (n.empty()) return -1;
      connections += std::stoi(n);
    }
    return connections;
  }

  // Runs wrk against /plain for 2 s with 4 connections while dumping `dumps` times; checks
  // what wrk reports.
  void dump_under_load(const std::string& mode, int dumps) {
    if (::access(wrk_path, X_OK) != 0) GTEST_SKIP() << "wrk is not installed at " << wrk_path << " (apt-get install wrk)";
    const std::uint16_t port = start_server(mode);
    ASSERT_NE(port, 0) << server_->output();
    child_process wrk({wrk_path, "-t1", "-c4", "-d2s", "http://127.0.0.1:" + std::to_string(port) + "/plain"});
    ASSERT_GT(wrk.pid(), 0);

    // Dumps until `dumps` of them showed wrk's connections open (the first ones may come
    // before wrk connected); each signal must produce its dump.
    int under_load = 0;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (under_load < dumps && std::chrono::steady_clock::now() < give_up) {
      const int connections = dump_once();
      ASSERT_GE(connections, 0) << "no dump on stderr after SIGUSR1:\n" << server_->output();
      if (connections > 0) ++under_load;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));  // spreads the dumps over the run
    }
    EXPECT_EQ(under_load, dumps) << server_->output();

    // wrk's summary: requests were answered, none failed, no socket errors.
    ASSERT_NE(wrk.wait_for("^Transfer/sec:", std::chrono::seconds(30)), "") << wrk.output();
    (void)wrk.wait_for("(?!)", std::chrono::seconds(10));  // matches nothing: reads to wrk's exit
    const std::string report = wrk.output();
    std::smatch m;
    ASSERT_TRUE(std::regex_search(report, m, std::regex(R"(([0-9]+) requests in )"))) << report;
    EXPECT_GT(std::stol(m[1].str()), 0) << report;
    EXPECT_EQ(report.find("Socket errors"), std::string::npos) << report;
    EXPECT_EQ(report.find("Non-2xx or 3xx responses"), std::string::npos) << report;
    EXPECT_EQ(wrk.stop(), 0) << report;
  }

  std::unique_ptr<child_process> server_;
};

TEST_P(task_dump_wrk_test, sigusr1_dumps_while_wrk_runs_without_errors) { dump_under_load("coroutine", 4); }

TEST_P(task_dump_wrk_test, sigusr1_dumps_while_wrk_runs_without_errors_on_fibers) { dump_under_load("fiber", 4); }

C10K_INSTANTIATE_FOR_EVERY_BACKEND(task_dump_wrk_test);

}  // namespace
