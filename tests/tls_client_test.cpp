// The HTTP client over TLS (https upstreams), on every backend in both modes: verification
// (an untrusted, an expired and another host's certificate refused), SNI, ALPN, pooling and
// session resumption across connections, a 1 MiB body both ways, a handshake that stalls,
// and nginx with TLS as the upstream (skipped with the reason where nginx is missing).
#include <gtest/gtest.h>

#include <netinet/in.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>

#include "c10k/http/client.hpp"
#include "child_process.hpp"
#include "client_harness.hpp"
#include "test_server.hpp"
#include "tls_support.hpp"

namespace c10k {
namespace {

namespace fs = std::filesystem;


http::router upstream_routes() {
  http::router r;
  r.get("/", [](http::request&) -> task<http::response> { co_return http::response::text(200, "secure hello"); });
  r.post("/echo", [](http::request& q) -> task<http::response> { co_return http::response::text(200, std::string(q.body())); });
  r.get("/big", [](http::request&) -> task<http::response> { co_return http::response::text(200, testing::pattern_bytes(1 << 20)); });
  return r;
}

class tls_client_test : public testing::client_mode_test {
 protected:
  // A TLS upstream (one loop, on epoll: the backend under test is the client's) with `cert`.
  std::unique_ptr<http::server> upstream_with(const std::pair<std::string, std::string>& cert) {
    http::server_options o;
    o.tls.certificates = {{cert.first, cert.second}};
    return testing::start_test_server(upstream_routes(), "epoll", o);
  }
  http::client_options trusting() const {
    http::client_options o;
    o.tls.ca_file = pki_.ca_file();
    return o;
  }
  // GET / from https://host:port through cl; the outcome.
  result<http::client::whole_response> get(http::client& cl, const std::string& host, std::uint16_t port) {
    event_loop loop(backend_name());
    result<http::client::whole_response> out = std::errc::io_error;
    run(loop, [&] {
      http::upstream up = http::upstream::parse("https://" + host + ":" + std::to_string(port)).value();
      http::client_request q;
      out = call(loop, cl.fetch(up, std::move(q)));
    });
    return out;
  }

  testing::test_pki pki_;
};

TEST_P(tls_client_test, https_parses_with_port_443_by_default) {
  auto a = http::upstream::parse("https://example.test");
  ASSERT_TRUE(a);
  EXPECT_TRUE(a->tls);
  EXPECT_EQ(a->port, 443);
  auto b = http::upstream::parse("http://127.0.0.1:8080/");
  ASSERT_TRUE(b);
  EXPECT_FALSE(b->tls);
  EXPECT_EQ(b->port, 8080);
}

TEST_P(tls_client_test, verified_requests_share_a_pooled_connection) {
  auto srv = upstream_with(pki_.issue("localhost", {"localhost", "127.0.0.1"}));
  http::client cl(trusting());
  event_loop loop(backend_name());
  run(loop, [&] {
    const http::upstream up = http::upstream::parse("https://localhost:" + std::to_string(srv->port())).value();
    for (int i = 0; i < 3; ++i) {
      http::client_request q;
      auto r = call(loop, cl.fetch(up, std::move(q)));
      ASSERT_TRUE(r) << r.error().message();
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, "secure hello");
    }
    const std::string upload = testing::pattern_bytes(1 << 20);
    http::client_request post;
    post.method = "POST";
    post.target = "/echo";
    post.body = upload;
    auto e = call(loop, cl.fetch(up, std::move(post)));
    ASSERT_TRUE(e) << e.error().message();
    EXPECT_TRUE(e->body == upload);
    http::client_request big;
    big.target = "/big";
    auto b = call(loop, cl.fetch(up, std::move(big)));
    ASSERT_TRUE(b);
    EXPECT_TRUE(b->body == testing::pattern_bytes(1 << 20));
  });
  EXPECT_EQ(cl.stats().connects, 1u);
  EXPECT_EQ(cl.stats().reused, 4u);
}

TEST_P(tls_client_test, new_connections_resume_the_session_of_the_first) {
  auto srv = upstream_with(pki_.issue("localhost", {"localhost"}));
  auto o = trusting();
  o.max_idle_per_upstream = 0;  // every request on a new connection
  http::client cl(o);
  for (int i = 0; i < 3; ++i) {
    auto r = get(cl, "localhost", srv->port());
    ASSERT_TRUE(r) << r.error().message();
  }
  EXPECT_EQ(cl.stats().connects, 3u);
  EXPECT_EQ(cl.stats().tls_resumed, 2u);
}

TEST_P(tls_client_test, an_untrusted_certificate_is_refused) {
  auto srv = upstream_with(pki_.issue("localhost", {"localhost"}));
  http::client cl;  // the system's store, which does not know the test CA
  auto r = get(cl, "localhost", srv->port());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), tls::errc::certificate_rejected) << r.error().message();
}

TEST_P(tls_client_test, an_expired_certificate_is_refused) {
  auto srv = upstream_with(pki_.issue("expired", {"localhost"}, -7200, -3600));
  http::client cl(trusting());
  auto r = get(cl, "localhost", srv->port());
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), tls::errc::certificate_rejected) << r.error().message();
}

TEST_P(tls_client_test, another_hosts_certificate_is_refused) {
  auto srv = upstream_with(pki_.issue("other", {"other.test"}));
  http::client cl(trusting());
  auto by_name = get(cl, "localhost", srv->port());
  ASSERT_FALSE(by_name);
  EXPECT_EQ(by_name.error(), tls::errc::certificate_rejected);
  auto by_ip = get(cl, "127.0.0.1", srv->port());
  ASSERT_FALSE(by_ip);
  EXPECT_EQ(by_ip.error(), tls::errc::certificate_rejected);
}

TEST_P(tls_client_test, an_ip_address_is_checked_against_the_certificates_ip_names) {
  auto srv = upstream_with(pki_.issue("ip", {"127.0.0.1"}));
  http::client cl(trusting());
  auto r = get(cl, "127.0.0.1", srv->port());
  ASSERT_TRUE(r) << r.error().message();
  EXPECT_EQ(r->body, "secure hello");
}

TEST_P(tls_client_test, a_handshake_that_stalls_ends_at_the_connect_timeout) {
  // A listener that accepts (the kernel does) and never answers.
  const int l = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(l, 8), 0);
  socklen_t len = sizeof a;
  ::getsockname(l, reinterpret_cast<sockaddr*>(&a), &len);
  auto o = trusting();
  o.connect_timeout = std::chrono::milliseconds(200);
  http::client cl(o);
  auto r = get(cl, "127.0.0.1", ntohs(a.sin_port));
  ::close(l);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error(), std::errc::timed_out) << r.error().message();
}

TEST_P(tls_client_test, nginx_with_tls_as_the_upstream) {
  const std::string exe = fs::exists("/usr/sbin/nginx") ? "/usr/sbin/nginx" : "";
  if (exe.empty()) GTEST_SKIP() << "nginx is not installed (apt-get install nginx-light)";
  const auto cert = pki_.issue("localhost", {"localhost"});
  const std::uint16_t port = testing::free_loopback_port();
  const std::string d = pki_.dir();
  fs::create_directories(d + "/www");
  std::ofstream(d + "/www/big") << testing::pattern_bytes(1 << 20);
  std::ofstream(d + "/nginx.conf") << "worker_processes 1; daemon off; pid " << d << "/nginx.pid; error_log " << d
                                   << "/nginx-error.log warn; events { worker_connections 64; }\n"
                                   << "http { access_log off; client_body_temp_path " << d << "; proxy_temp_path " << d
                                   << "; fastcgi_temp_path " << d << "; uwsgi_temp_path " << d << "; scgi_temp_path " << d
                                   << ";\n server { listen 127.0.0.1:" << port << " ssl; ssl_certificate " << cert.first
                                   << "; ssl_certificate_key " << cert.second << "; root " << d
                                   << "/www; location = /plain { return 200 \"x\"; } } }\n";
  testing::child_process nginx({exe, "-c", d + "/nginx.conf", "-e", d + "/nginx-error.log"});
  http::client cl(trusting());
  event_loop loop(backend_name());
  run(loop, [&] {
    const http::upstream up = http::upstream::parse("https://localhost:" + std::to_string(port)).value();
    result<http::client::whole_response> first = std::errc::io_error;
    for (int i = 0; i < 100; ++i) {  // nginx says nothing when it is up: ask until it answers
      http::client_request q;
      q.target = "/plain";
      first = call(loop, cl.fetch(up, std::move(q)));
      if (first || first.error() != std::errc::connection_refused) break;
      ::usleep(50'000);
    }
    ASSERT_TRUE(first) << first.error().message();
    EXPECT_EQ(first->body, "x");
    http::client_request big;
    big.target = "/big";
    auto b = call(loop, cl.fetch(up, std::move(big)));
    ASSERT_TRUE(b) << b.error().message();
    EXPECT_TRUE(b->body == testing::pattern_bytes(1 << 20));
  });
  EXPECT_GE(cl.stats().reused, 1u);
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND_AND_MODE(tls_client_test);

}  // namespace
}  // namespace c10k
