// c10k-proxy as a user runs it (a child process), on every backend: bodies intact both ways in
// front of c10k-server, X-Forwarded-For, 502 for an upstream that fails, 504 for one that is late.
#include <gtest/gtest.h>

#include <string>

#include "backend_param.hpp"
#include "child_process.hpp"
#include "http_client.hpp"
#include "raw_upstream.hpp"

using c10k::testing::child_process;
using c10k::testing::http_client;
using c10k::testing::raw_peer;
using c10k::testing::raw_upstream;

namespace {

class proxy_test : public c10k::testing::backend_test {
 protected:
  // Starts c10k-proxy in front of `upstream` with extra flags; returns its port (0: it failed).
  std::uint16_t start_proxy(const std::string& upstream, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{C10K_PROXY, "--host", "127.0.0.1", "--port", "0", "--threads", "1",
                                  "--backend", backend_name(), "--upstream", upstream};
    argv.insert(argv.end(), extra.begin(), extra.end());
    proxy_ = std::make_unique<child_process>(argv);
    const std::string port = proxy_->wait_for("c10k-proxy on 127\\.0\\.0\\.1:([0-9]+)");
    return port.empty() ? 0 : static_cast<std::uint16_t>(std::stoi(port));
  }
  // Starts c10k-server; returns its port (0: it failed).
  std::uint16_t start_server() {
    server_ = std::make_unique<child_process>(
        std::vector<std::string>{C10K_SAMPLE_SERVER, "--host", "127.0.0.1", "--port", "0", "--threads", "1", "--backend", backend_name()});
    const std::string port = server_->wait_for("serving http://127\\.0\\.0\\.1:([0-9]+)/");
    return port.empty() ? 0 : static_cast<std::uint16_t>(std::stoi(port));
  }
  std::unique_ptr<child_process> proxy_, server_;
};

std::string pattern(std::size_t n) {
  std::string s;
  for (std::size_t i = 0; s.size() < n; ++i) s += std::to_string(i * 7919) + ",";
  s.resize(n);
  return s;
}

TEST_P(proxy_test, a_1_mib_post_to_echo_comes_back_intact_over_kept_alive_connections) {
  const std::uint16_t app = start_server();
  ASSERT_NE(app, 0) << server_->output();
  const std::uint16_t port = start_proxy("127.0.0.1:" + std::to_string(app));
  ASSERT_NE(port, 0) << proxy_->output();
  const std::string body = pattern(1 << 20);
  http_client c(port);
  for (int i = 0; i < 3; ++i) {
    c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body);
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_TRUE(r->body == body) << "came back as " << r->body.size() << " bytes";
  }
  // A chunked upload too, and a plain GET after it on the same connection.
  c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello world");
  c.send("GET /plain HTTP/1.1\r\nHost: x\r\n\r\n");
  r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "x");
}

TEST_P(proxy_test, the_upstream_sees_x_forwarded_for_and_no_hop_by_hop_headers) {
  std::string seen;
  std::mutex m;
  raw_upstream up([&](raw_peer& p, int) {
    for (std::string q; !(q = p.read_request()).empty();) {
      {
        std::lock_guard lock(m);
        seen = q;
      }
      p.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\nok");
    }
  });
  const std::uint16_t port = start_proxy("127.0.0.1:" + std::to_string(up.port()));
  ASSERT_NE(port, 0) << proxy_->output();
  http_client c(port);
  c.send("GET /a?b=1 HTTP/1.1\r\nHost: example\r\nX-Forwarded-For: 10.0.0.1\r\nConnection: keep-alive, X-Drop\r\nX-Drop: 1\r\nX-Keep: 2\r\n\r\n");
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
  EXPECT_EQ(r->header("keep-alive"), "");
  std::lock_guard lock(m);
  EXPECT_TRUE(seen.starts_with("GET /a?b=1 HTTP/1.1\r\n")) << seen;
  EXPECT_NE(seen.find("X-Forwarded-For: 10.0.0.1, 127.0.0.1\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("Host: example\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("X-Keep: 2\r\n"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("X-Drop"), std::string::npos) << seen;
  EXPECT_EQ(seen.find("Connection"), std::string::npos) << seen;
}

TEST_P(proxy_test, every_hop_by_hop_header_is_dropped_both_ways_and_the_others_pass) {
  std::string seen;
  std::mutex m;
  raw_upstream up([&](raw_peer& p, int) {
    for (std::string q; !(q = p.read_request()).empty();) {
      {
        std::lock_guard lock(m);
        seen = q;
      }
      p.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\nProxy-Authenticate: Basic\r\n"
             "Trailer: X-T\r\nUpgrade: h2c\r\nDate: Thu, 01 Jan 1970 00:00:00 GMT\r\nServer: upstream-9\r\n"
             "Connection: keep-alive, X-Listed\r\nX-Listed: 1\r\nX-Resp: 3\r\nX-Forwarded-For: 1.1.1.1\r\n\r\nok");
    }
  });
  const std::uint16_t port = start_proxy("127.0.0.1:" + std::to_string(up.port()));
  ASSERT_NE(port, 0) << proxy_->output();
  http_client c(port);
  // Chunked, so Transfer-Encoding is a header the proxy must frame itself.
  c.send("POST /p HTTP/1.1\r\nHost: example\r\nTE: trailers\r\nTrailer: X-T\r\nKeep-Alive: 300\r\n"
         "Proxy-Connection: keep-alive\r\nProxy-Authorization: Basic eA==\r\nX-Forwarded-For: 10.0.0.1\r\n"
         "x-forwarded-for: 10.0.0.2\r\nDate: today\r\nServer: client-7\r\nX-Other: 4\r\n"
         "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n");
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "ok");
  for (const char* gone : {"keep-alive", "proxy-authenticate", "trailer", "upgrade", "x-listed"})
    EXPECT_EQ(r->header(gone), "") << gone;
  EXPECT_NE(r->header("date"), "Thu, 01 Jan 1970 00:00:00 GMT");  // the proxy's own
  EXPECT_NE(r->header("server"), "upstream-9");
  EXPECT_EQ(r->header("x-resp"), "3");
  EXPECT_EQ(r->header("x-forwarded-for"), "1.1.1.1");
  std::lock_guard lock(m);
  EXPECT_TRUE(seen.starts_with("POST /p HTTP/1.1\r\n")) << seen;
  for (const char* gone : {"TE:", "Trailer", "Keep-Alive", "Proxy-", "Connection"})
    EXPECT_EQ(seen.find(gone), std::string::npos) << gone << " in " << seen;
  EXPECT_NE(seen.find("X-Forwarded-For: 10.0.0.1, 10.0.0.2, 127.0.0.1\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("Date: today\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("Server: client-7\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("X-Other: 4\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("Transfer-Encoding: chunked\r\n"), std::string::npos) << seen;
  EXPECT_NE(seen.find("\r\n\r\n5\r\nhello\r\n0\r\n\r\n"), std::string::npos) << seen;
}

TEST_P(proxy_test, an_upstream_that_fails_gets_502_and_one_that_is_late_504) {
  raw_upstream refused_later([](raw_peer&, int) {});
  const std::uint16_t dead = refused_later.port();
  {
    raw_upstream silent([](raw_peer& p, int) { p.wait_for_close(); });
    const std::uint16_t port = start_proxy("127.0.0.1:" + std::to_string(silent.port()), {"--upstream-timeout", "1"});
    ASSERT_NE(port, 0) << proxy_->output();
    http_client c(port);
    c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    auto r = c.read_reply();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 504);
    EXPECT_NE(r->body.find("did not answer in time"), std::string::npos) << r->body;
    proxy_.reset();
  }
  raw_upstream garbage([](raw_peer& p, int) {
    p.read_request();
    p.send("SMTP ready\r\n\r\n");
  });
  const std::uint16_t port = start_proxy("127.0.0.1:" + std::to_string(garbage.port()));
  ASSERT_NE(port, 0) << proxy_->output();
  http_client c(port);
  c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  auto r = c.read_reply();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 502);
  EXPECT_NE(r->body.find("502 Bad Gateway"), std::string::npos) << r->body;
  (void)dead;
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(proxy_test);

}  // namespace
