// The client against real upstreams started by the test: nginx, c10k-server and a Go net/http
// server, each skipped with the reason where it is missing. Every backend, coroutines and fibers.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>

#include "c10k/http/client.hpp"
#include "child_process.hpp"
#include "client_harness.hpp"
#include "http_client.hpp"

using namespace c10k;
using c10k::testing::child_process;

namespace {

namespace fs = std::filesystem;

bool on_path(const std::string& tool) { return std::system(("command -v " + tool + " >/dev/null 2>&1").c_str()) == 0; }


std::string pattern_body(std::size_t n) {
  std::string s;
  s.reserve(n);
  for (std::size_t i = 0; s.size() < n; ++i) s += std::to_string(i) + "\n";
  s.resize(n);
  return s;
}

// The peers, started once for the whole suite; each one empty with `why` set where missing.
struct peers {
  fs::path dir;
  std::unique_ptr<child_process> go, nginx, c10k;
  std::uint16_t go_port = 0, nginx_port = 0, c10k_port = 0;
  std::string go_why, nginx_why, c10k_why;
  std::string big = pattern_body(1 << 20);

  peers() {
    char tmpl[] = "/tmp/c10k-peers-XXXXXX";
    dir = ::mkdtemp(tmpl);
    start_go();
    start_nginx();
    start_c10k();
  }
  ~peers() {
    go.reset();
    nginx.reset();
    c10k.reset();
    std::error_code ec;
    fs::remove_all(dir, ec);
  }

  void start_go() {
    if (!on_path("go")) return void(go_why = "go is not installed (apt-get install golang-go)");
    // The build cache stays in the build tree: each test runs in a process of its own, and
    // compiling net/http afresh for each would take most of a minute.
    const std::string bin = (dir / "echo").string();
    const std::string cmd = "cd " + dir.string() + " && GOCACHE=" C10K_GO_CACHE " GOPATH=" +
                            (dir / "gopath").string() + " HOME=" + dir.string() + " GOFLAGS= GO111MODULE=off go build -o " + bin + " " +
                            C10K_PEERS_DIR "/echo.go > " + (dir / "go-build.log").string() + " 2>&1";
    if (std::system(cmd.c_str()) != 0) return void(go_why = "go build of tests/peers/echo.go failed: see " + dir.string() + "/go-build.log");
    go = std::make_unique<child_process>(std::vector<std::string>{bin});
    const std::string port = go->wait_for("listening on ([0-9]+)");
    if (port.empty()) return void(go_why = "the Go server did not start: " + go->output());
    go_port = static_cast<std::uint16_t>(std::stoi(port));
  }

  void start_nginx() {
    if (!on_path("nginx") && !fs::exists("/usr/sbin/nginx")) return void(nginx_why = "nginx is not installed (apt-get install nginx-light)");
    nginx_port = c10k::testing::free_loopback_port();
    fs::create_directories(dir / "www");
    std::ofstream(dir / "www" / "big") << big;
    const std::string d = dir.string();
    std::ofstream(dir / "nginx.conf") << "worker_processes 1; daemon off; pid " << d << "/nginx.pid; error_log " << d
                                      << "/nginx-error.log warn; events { worker_connections 256; }\n"
                                      << "http { access_log off; client_body_temp_path " << d << "; proxy_temp_path " << d
                                      << "; fastcgi_temp_path " << d << "; uwsgi_temp_path " << d << "; scgi_temp_path " << d
                                      << "; keepalive_requests 1000;\n server { listen 127.0.0.1:" << nginx_port << "; root " << d
                                      << "/www; location = /plain { return 200 \"x\"; } } }\n";
    const std::string exe = fs::exists("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "nginx";
    nginx = std::make_unique<child_process>(std::vector<std::string>{exe, "-c", d + "/nginx.conf", "-e", d + "/nginx-error.log"});
    // nginx says nothing when it starts: wait until its port answers.
    for (int i = 0; i < 100; ++i) {
      const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(nginx_port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      ::close(fd);
      if (up) return;
      ::usleep(50'000);
    }
    nginx_why = "nginx did not start: " + nginx->output();
    nginx.reset();
  }

  void start_c10k() {
    c10k = std::make_unique<child_process>(
        std::vector<std::string>{C10K_SAMPLE_SERVER, "--host", "127.0.0.1", "--port", "0", "--threads", "1"});
    const std::string port = c10k->wait_for("serving http://127\\.0\\.0\\.1:([0-9]+)/");
    if (port.empty()) return void(c10k_why = "c10k-server did not start: " + c10k->output());
    c10k_port = static_cast<std::uint16_t>(std::stoi(port));
  }
};

peers* the_peers = nullptr;

class client_peers_test : public c10k::testing::client_mode_test {
 public:
  static void SetUpTestSuite() {
    if (!the_peers) the_peers = new peers();
  }
  static void TearDownTestSuite() {
    delete the_peers;
    the_peers = nullptr;
  }

 protected:
  // Three GETs of /plain on one connection, then whatever `more` checks.
  void check_keep_alive(std::uint16_t port) {
    event_loop loop(backend_name());
    http::client cl;
    run(loop, [&] {
      for (int i = 0; i < 3; ++i) {
        http::client_request q;
        q.target = "/plain";
        auto r = call(loop, cl.fetch({"127.0.0.1", port}, std::move(q)));
        ASSERT_TRUE(r) << r.error().message();
        EXPECT_EQ(r->status, 200);
        EXPECT_EQ(r->body, "x");
      }
    });
    EXPECT_EQ(cl.stats().connects, 1u);
  }
  // POSTs body to /echo as a chunked stream and checks it comes back whole.
  void check_echo(std::uint16_t port, const std::string& body) {
    event_loop loop(backend_name());
    http::client cl;
    run(loop, [&] {
      http::client_request q;
      q.method = "POST";
      q.target = "/echo";
      q.body_stream = [&body](http::body_writer& w) -> task<void> {
        for (std::size_t at = 0; at < body.size(); at += 64 * 1024)
          if (!co_await w.write(std::string_view(body).substr(at, 64 * 1024))) co_return;
      };
      auto r = call(loop, cl.fetch({"127.0.0.1", port}, std::move(q)));
      ASSERT_TRUE(r) << r.error().message();
      EXPECT_EQ(r->status, 200);
      EXPECT_TRUE(r->body == body) << "echo of " << body.size() << " bytes came back as " << r->body.size();
    });
  }
};

TEST_P(client_peers_test, go_net_http_as_the_upstream) {
  if (!the_peers->go_port) GTEST_SKIP() << the_peers->go_why;
  check_keep_alive(the_peers->go_port);
  check_echo(the_peers->go_port, pattern_body(300'000));
  event_loop loop(backend_name());
  http::client cl;
  run(loop, [&] {  // a chunked response, flushed piece by piece
    http::client_request q;
    q.target = "/stream";
    auto r = call(loop, cl.fetch({"127.0.0.1", the_peers->go_port}, std::move(q)));
    ASSERT_TRUE(r) << r.error().message();
    std::string want;
    for (int i = 0; i < 100; ++i) want += "piece " + std::to_string(i) + ";";
    EXPECT_EQ(r->body, want);
  });
}

TEST_P(client_peers_test, nginx_as_the_upstream) {
  if (!the_peers->nginx_port) GTEST_SKIP() << the_peers->nginx_why;
  check_keep_alive(the_peers->nginx_port);
  event_loop loop(backend_name());
  http::client cl;
  run(loop, [&] {
    for (int i = 0; i < 2; ++i) {
      http::client_request q;
      q.target = "/big";
      auto r = call(loop, cl.fetch({"127.0.0.1", the_peers->nginx_port}, std::move(q)));
      ASSERT_TRUE(r) << r.error().message();
      EXPECT_EQ(r->status, 200);
      EXPECT_TRUE(r->body == the_peers->big) << r->body.size() << " bytes";
    }
  });
  EXPECT_EQ(cl.stats().connects, 1u);
}

TEST_P(client_peers_test, c10k_server_as_the_upstream) {
  if (!the_peers->c10k_port) GTEST_SKIP() << the_peers->c10k_why;
  check_keep_alive(the_peers->c10k_port);
  check_echo(the_peers->c10k_port, pattern_body(1 << 20));
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND_AND_MODE(client_peers_test);

}  // namespace
