// c10k-fanout as a user runs it, on every backend: one request calls two c10k-servers at once
// under its deadline; the prompt one's answer comes back, the late one's call ends at the
// deadline (not when it would have answered), and the answer does not wait for it.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "backend_param.hpp"
#include "child_process.hpp"
#include "http_client.hpp"

using c10k::testing::child_process;
using c10k::testing::get;
using c10k::testing::http_client;

namespace {

class fanout_test : public c10k::testing::backend_test {
 protected:
  std::uint16_t start_server(std::unique_ptr<child_process>& p) {
    p = std::make_unique<child_process>(
        std::vector<std::string>{C10K_SAMPLE_SERVER, "--host", "127.0.0.1", "--port", "0", "--threads", "1", "--backend", backend_name()});
    const std::string port = p->wait_for("serving http://127\\.0\\.0\\.1:([0-9]+)/");
    return port.empty() ? 0 : static_cast<std::uint16_t>(std::stoi(port));
  }
  std::uint16_t start_fanout(const std::string& path, const std::vector<std::uint16_t>& upstreams) {
    std::vector<std::string> argv{C10K_FANOUT, "--host", "127.0.0.1", "--port", "0", "--threads", "1",
                                  "--backend", backend_name(), "--path", path, "--deadline-ms", "300"};
    for (std::uint16_t u : upstreams) {
      argv.push_back("--upstream");
      argv.push_back("127.0.0.1:" + std::to_string(u));
    }
    fanout_ = std::make_unique<child_process>(argv);
    const std::string port = fanout_->wait_for("c10k-fanout on 127\\.0\\.0\\.1:([0-9]+)");
    return port.empty() ? 0 : static_cast<std::uint16_t>(std::stoi(port));
  }
  std::unique_ptr<child_process> a_, b_, fanout_;
};

}  // namespace

TEST_P(fanout_test, every_upstream_answers_within_the_deadline) {
  const std::uint16_t a = start_server(a_), b = start_server(b_);
  ASSERT_TRUE(a && b);
  const std::uint16_t port = start_fanout("/plain", {a, b});
  ASSERT_NE(port, 0) << fanout_->output();
  http_client c(port);
  auto r = c.request(get("/fanout"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "127.0.0.1:" + std::to_string(a) + " 200 x\n127.0.0.1:" + std::to_string(b) + " 200 x\n");
}

TEST_P(fanout_test, a_late_upstream_is_cut_at_the_deadline_and_the_rest_still_answer) {
  // /delay/2000 on both, but a caller's budget header of 100 ms is tighter than the 300 ms
  // deadline: both calls end at 100 ms, long before either upstream would answer.
  const std::uint16_t a = start_server(a_), b = start_server(b_);
  ASSERT_TRUE(a && b);
  const std::uint16_t port = start_fanout("/delay/2000", {a, b});
  ASSERT_NE(port, 0) << fanout_->output();
  http_client c(port);
  const auto before = std::chrono::steady_clock::now();
  auto r = c.request("GET /fanout HTTP/1.1\r\nHost: x\r\nX-Deadline-Ms: 100\r\n\r\n");
  const auto took = std::chrono::steady_clock::now() - before;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("127.0.0.1:" + std::to_string(a) + " error: "), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("127.0.0.1:" + std::to_string(b) + " error: "), std::string::npos) << r->body;
  EXPECT_LT(took, std::chrono::seconds(2));  // the answer did not wait for the upstreams
  // The fan-out service still answers the next request on the same connection.
  auto next = c.request(get("/fanout"));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->status, 200);
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(fanout_test);
