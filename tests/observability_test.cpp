// Metrics and the access log of a server (server_options::metrics, access_log), over real
// sockets on every backend.
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backend_param.hpp"
#include "c10k/http/metrics.hpp"
#include "http_client.hpp"
#include "test_server.hpp"

using namespace c10k;
using namespace c10k::testing;

namespace {

// The value of the sample whose line starts with `series` (name and labels), or -1.
double sample_value(const std::string& text, const std::string& series) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  return -1;
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream f(p);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// A fresh directory under the system's temporary one, removed with the object.
struct temp_dir {
  std::filesystem::path path;
  temp_dir() {
    char tmpl[] = "/tmp/c10k-obs-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~temp_dir() { std::filesystem::remove_all(path); }
};

// `running` is set on the test's thread once the server has started and read by a loop thread
// in /metrics: atomic, since on io_uring the request's bytes reach the loop through the ring,
// an ordering ThreadSanitizer cannot see (make test-tsan reported a race there).
http::router test_routes(std::atomic<http::server*>* running) {
  http::router r;
  r.get("/x", [](http::request&) -> task<http::response> { co_return http::response::text(200, "hello"); });
  r.post("/x", [](http::request& q) -> task<http::response> { co_return http::response::text(201, std::string(q.body())); });
  r.get("/fail", [](http::request&) -> task<http::response> { throw std::runtime_error("handler failure"); });
  r.get("/metrics", [running](http::request&) -> task<http::response> { co_return http::metrics_response(*running->load()); });
  return r;
}

class metrics_test : public backend_test {};

TEST_P(metrics_test, counts_requests_by_method_and_class_durations_bytes_and_closes) {
  std::atomic<http::server*> running{nullptr};
  auto srv = start_test_server(test_routes(&running), backend_name(), {.metrics = true});
  running = srv.get();
  {
    http_client c(srv->port());
    for (int i = 0; i < 3; ++i) ASSERT_EQ(c.request(get("/x"))->status, 200);
    ASSERT_EQ(c.request(get("/nowhere"))->status, 404);
    ASSERT_EQ(c.request("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")->status, 201);
    c.send("HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n");
    ASSERT_EQ(c.read_reply(/*head_request=*/true)->status, 200);
    ASSERT_EQ(c.request(get("/fail"))->status, 500);
  }  // the client closes
  {
    http_client bad(srv->port());
    bad.send("GET /x HTTP/1.1\r\nNo colon here\r\n\r\n");  // a malformed request: answered, then closed
    ASSERT_TRUE(bad.read_reply().has_value());
  }
  ASSERT_TRUE(eventually([&] {
    const std::string t = srv->metrics_text();
    return sample_value(t, R"(c10k_http_connections_closed_total{reason="client"})") == 1 &&
           sample_value(t, R"(c10k_http_connections_closed_total{reason="refused"})") == 1;
  })) << srv->metrics_text();

  const std::string t = srv->metrics_text();
  EXPECT_EQ(sample_value(t, R"(c10k_http_requests_total{method="GET",code="2xx"})"), 3) << t;
  EXPECT_EQ(sample_value(t, R"(c10k_http_requests_total{method="GET",code="4xx"})"), 1);
  EXPECT_EQ(sample_value(t, R"(c10k_http_requests_total{method="GET",code="5xx"})"), 1);
  EXPECT_EQ(sample_value(t, R"(c10k_http_requests_total{method="POST",code="2xx"})"), 1);
  EXPECT_EQ(sample_value(t, R"(c10k_http_requests_total{method="HEAD",code="2xx"})"), 1);
  EXPECT_EQ(sample_value(t, R"(c10k_http_requests_total{method="other",code="4xx"})"), 1);  // the malformed one
  EXPECT_EQ(sample_value(t, "c10k_http_request_duration_seconds_count"), 8);
  EXPECT_EQ(sample_value(t, R"(c10k_http_request_duration_seconds_bucket{le="+Inf"})"), 8);
  EXPECT_EQ(sample_value(t, "c10k_http_connections_accepted_total"), 2);
  EXPECT_GT(sample_value(t, "c10k_http_received_bytes_total"), 100);
  EXPECT_GT(sample_value(t, "c10k_http_sent_bytes_total"), 8 * 30);
  EXPECT_EQ(sample_value(t, R"(c10k_http_connections_open{loop="0"})"), 0);
  EXPECT_GT(sample_value(t, R"(c10k_loop_turns_total{loop="0"})"), 0);
  EXPECT_GT(sample_value(t, R"(c10k_backend_syscalls_total{loop="0"})"), 0);
  EXPECT_GE(sample_value(t, "c10k_offload_threads_busy"), 0);
}

TEST_P(metrics_test, an_idle_timeout_is_counted_as_its_reason) {
  std::atomic<http::server*> running{nullptr};
  auto srv = start_test_server(test_routes(&running), backend_name(),
                               {.keepalive_timeout = std::chrono::milliseconds(50), .metrics = true});
  running = srv.get();
  http_client c(srv->port());
  ASSERT_EQ(c.request(get("/x"))->status, 200);
  EXPECT_TRUE(c.closed_by_server());
  ASSERT_TRUE(eventually([&] {
    return sample_value(srv->metrics_text(), R"(c10k_http_connections_closed_total{reason="timeout_idle"})") == 1;
  })) << srv->metrics_text();
}

TEST_P(metrics_test, the_scrape_route_serves_the_text_format_and_promtool_accepts_it) {
  std::atomic<http::server*> running{nullptr};
  auto srv = start_test_server(test_routes(&running), backend_name(), {.metrics = true});
  running = srv.get();
  http_client c(srv->port());
  ASSERT_EQ(c.request(get("/x"))->status, 200);
  auto r = c.request(get("/metrics"));
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->header("content-type"), http::metrics_content_type);
  EXPECT_EQ(sample_value(r->body, R"(c10k_http_requests_total{method="GET",code="2xx"})"), 1) << r->body;

  if (::access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool is not installed (apt-get install prometheus)";
  temp_dir dir;
  const auto file = dir.path / "metrics.txt";
  std::ofstream(file) << r->body;
  const std::string cmd = "/usr/bin/promtool check metrics < " + file.string() + " > " + (dir.path / "out").string() + " 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0) << read_file(dir.path / "out");
}

TEST_P(metrics_test, without_the_option_only_the_loops_gauges_are_served) {
  std::atomic<http::server*> running{nullptr};
  auto srv = start_test_server(test_routes(&running), backend_name());
  running = srv.get();
  http_client c(srv->port());
  ASSERT_EQ(c.request(get("/x"))->status, 200);
  const std::string t = srv->metrics_text();
  EXPECT_EQ(t.find("c10k_http_requests_total"), std::string::npos);
  EXPECT_GT(sample_value(t, R"(c10k_loop_turns_total{loop="0"})"), 0) << t;
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(metrics_test);

class access_log_test : public backend_test {};

TEST_P(access_log_test, writes_one_combined_line_per_request) {
  temp_dir dir;
  const auto log = dir.path / "access.log";
  std::atomic<http::server*> running{nullptr};
  auto srv = start_test_server(test_routes(&running), backend_name(), {.access_log = log.string()});
  running = srv.get();
  http_client c(srv->port());
  ASSERT_EQ(c.request(get("/x?q=1", "Referer: http://ref/\r\nUser-Agent: t\"ua\r\n"))->status, 200);
  ASSERT_EQ(c.request(get("/nowhere"))->status, 404);
  srv->sync_access_log();
  const std::string text = read_file(log);
  std::istringstream in(text);
  std::string first, second, extra;
  ASSERT_TRUE(std::getline(in, first)) << text;
  ASSERT_TRUE(std::getline(in, second)) << text;
  EXPECT_FALSE(std::getline(in, extra)) << text;
  EXPECT_EQ(first.rfind("127.0.0.1 - - [", 0), 0u) << first;
  EXPECT_NE(first.find(R"("GET /x?q=1 HTTP/1.1" 200 )"), std::string::npos) << first;
  EXPECT_NE(first.find(R"( "http://ref/" "t\"ua")"), std::string::npos) << first;
  EXPECT_NE(second.find(R"("GET /nowhere HTTP/1.1" 404 )"), std::string::npos) << second;
  // The bytes field: a whole number, more than the five-byte body.
  const auto after = first.find("\" 200 ") + 6;
  EXPECT_GT(std::stoul(first.substr(after)), 5u) << first;
}

TEST_P(access_log_test, json_lines_by_option) {
  temp_dir dir;
  const auto log = dir.path / "access.json";
  std::atomic<http::server*> running{nullptr};
  auto srv = start_test_server(test_routes(&running), backend_name(), {.access_log = log.string(), .access_log_json = true});
  running = srv.get();
  http_client c(srv->port());
  ASSERT_EQ(c.request("POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc")->status, 201);
  srv->sync_access_log();
  const std::string text = read_file(log);
  EXPECT_EQ(text.rfind("{\"time\":\"", 0), 0u) << text;
  EXPECT_NE(text.find(R"("remote":"127.0.0.1","method":"POST","target":"/x","version":"HTTP/1.1","status":201,"bytes":)"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.back(), '\n');
}

TEST_P(access_log_test, reopen_after_a_rename_starts_a_new_file) {
  temp_dir dir;
  const auto log = dir.path / "access.log";
  std::atomic<http::server*> running{nullptr};
  auto srv = start_test_server(test_routes(&running), backend_name(), {.access_log = log.string()});
  running = srv.get();
  http_client c(srv->port());
  ASSERT_EQ(c.request(get("/x?before"))->status, 200);
  srv->sync_access_log();
  std::filesystem::rename(log, dir.path / "access.log.1");
  srv->reopen_access_log();
  ASSERT_EQ(c.request(get("/x?after"))->status, 200);
  srv->sync_access_log();
  const std::string old_text = read_file(dir.path / "access.log.1");
  const std::string new_text = read_file(log);
  EXPECT_NE(old_text.find("/x?before"), std::string::npos) << old_text;
  EXPECT_EQ(old_text.find("/x?after"), std::string::npos) << old_text;
  EXPECT_NE(new_text.find("/x?after"), std::string::npos) << new_text;
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(access_log_test);

}  // namespace
