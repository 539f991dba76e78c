// The HTTP server over TLS, on every backend (and, rerun by ctest, with fiber connections):
// both protocol versions, ALPN, resumption, SNI, reloads, big bodies, files, and hostile
// clients (plain HTTP, garbage, a stalled or truncated handshake).
#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/tcp.h>

#include <fstream>
#include <mutex>

#include "backend_param.hpp"
#include "c10k/http/static_files.hpp"
#include "c10k/log.hpp"
#include "test_server.hpp"
#include "tls_support.hpp"

namespace c10k {
namespace {

using testing::http_client;
using testing::tls_client_options;
using testing::tls_http_client;


class tls_server : public testing::backend_test {
 protected:
  void SetUp() override {
    testing::backend_test::SetUp();
    if (IsSkipped()) return;
    leaf_ = pki_.issue("localhost", {"localhost", "127.0.0.1"});
    std::ofstream(pki_.dir() + "/file.bin", std::ios::binary) << testing::pattern_bytes(300'000);
  }

  http::router routes() {
    http::router r;
    r.get("/", [](http::request&) -> task<http::response> { co_return http::response::text(200, "hello over tls"); });
    r.get("/big", [](http::request&) -> task<http::response> { co_return http::response::text(200, testing::pattern_bytes(1 << 20)); });
    r.post("/echo", [](http::request& q) -> task<http::response> { co_return http::response::text(200, std::string(q.body())); });
    r.get("/static/{path...}", http::static_files(pki_.dir()));
    return r;
  }

  std::unique_ptr<http::server> start(http::server_options o = {}) {
    if (o.tls.certificates.empty()) o.tls.certificates.push_back({leaf_.first, leaf_.second});
    return testing::start_test_server(routes(), backend_name(), std::move(o));
  }

  tls_client_options verified() const {
    tls_client_options o;
    o.ca_file = pki_.ca_file();
    o.server_name = "localhost";
    return o;
  }

  testing::test_pki pki_;
  std::pair<std::string, std::string> leaf_;
};

TEST_P(tls_server, serves_tls13_and_tls12_with_alpn_http11) {
  auto srv = start();
  EXPECT_EQ(srv->tls_port(), srv->port());
  for (int max : {0, TLS1_2_VERSION}) {
    auto o = verified();
    o.max_version = max;
    tls_http_client c(srv->port(), o);
    EXPECT_EQ(c.version(), max ? "TLSv1.2" : "TLSv1.3");
    EXPECT_EQ(c.alpn(), "http/1.1");
    for (int i = 0; i < 3; ++i) {  // keep-alive on the session
      auto r = c.request("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
      ASSERT_TRUE(r) << c.version();
      EXPECT_EQ(r->status, 200);
      EXPECT_EQ(r->body, "hello over tls");
    }
  }
}

TEST_P(tls_server, a_client_offering_only_h2_goes_on_without_alpn) {
  auto srv = start();
  auto o = verified();
  o.alpn = {"h2"};
  tls_http_client c(srv->port(), o);
  EXPECT_EQ(c.alpn(), "");
  auto r = c.request("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_P(tls_server, pipelined_requests_big_bodies_and_files_arrive_whole) {
  auto srv = start();
  tls_http_client c(srv->port(), verified());
  const std::string upload = testing::pattern_bytes(1 << 20);
  c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /big HTTP/1.1\r\nHost: x\r\n\r\nPOST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " +
         std::to_string(upload.size()) + "\r\n\r\n" + upload + "GET /static/file.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  auto a = c.read_reply();
  auto b = c.read_reply();
  auto e = c.read_reply();
  auto f = c.read_reply();
  ASSERT_TRUE(a && b && e && f);
  EXPECT_EQ(a->body, "hello over tls");
  EXPECT_EQ(b->body, testing::pattern_bytes(1 << 20));
  EXPECT_EQ(e->body.size(), upload.size());
  EXPECT_TRUE(e->body == upload);
  EXPECT_EQ(f->status, 200);
  EXPECT_TRUE(f->body == testing::pattern_bytes(300'000));
}

TEST_P(tls_server, a_second_connection_resumes_the_session_on_both_versions) {
  auto srv = start();
  for (int max : {0, TLS1_2_VERSION}) {
    auto o = verified();
    o.max_version = max;
    SSL_SESSION* saved = nullptr;
    {
      tls_http_client first(srv->port(), o);
      ASSERT_TRUE(first.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));  // a TLS 1.3 ticket came by now
      EXPECT_FALSE(first.resumed());
      saved = first.session();
    }
    ASSERT_NE(saved, nullptr);
    o.resume = saved;
    tls_http_client second(srv->port(), o);
    EXPECT_TRUE(second.resumed()) << second.version();
    ASSERT_TRUE(second.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    SSL_SESSION_free(saved);
  }
}

TEST_P(tls_server, sni_chooses_the_certificate_that_names_the_host) {
  auto a = pki_.issue("a.test", {"a.test"});
  auto b = pki_.issue("b.test", {"b.test", "*.b.test"});
  http::server_options opt;
  opt.tls.certificates = {{a.first, a.second}, {b.first, b.second}};
  auto srv = start(opt);
  for (const auto& [name, cn] : {std::pair{"a.test", "a.test"}, {"b.test", "b.test"}, {"www.b.test", "b.test"}, {"other.test", "a.test"}}) {
    tls_client_options o;
    o.server_name = name;
    tls_http_client c(srv->port(), o);
    EXPECT_EQ(c.peer_cn(), cn) << name;
    auto r = c.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_TRUE(r) << name;
  }
}

TEST_P(tls_server, plain_http_on_the_tls_port_gets_a_plain_400_and_a_close) {
  auto srv = start();
  http_client c(srv->port());
  auto r = c.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_NE(r->body.find("HTTPS"), std::string::npos);
  EXPECT_TRUE(c.closed_by_server());
}

TEST_P(tls_server, garbage_before_the_client_hello_is_closed_without_an_answer) {
  auto srv = start();
  http_client c(srv->port());
  c.send(std::string("\x01\x02\x03\xff garbage", 12));
  EXPECT_EQ(c.read_all(), "");  // nothing, and the close (read_all returns at EOF)
  EXPECT_TRUE(testing::eventually([&] { return srv->connection_count() == 0; }));
}

TEST_P(tls_server, a_record_header_then_garbage_fails_the_handshake_and_closes) {
  auto srv = start();
  http_client c(srv->port());
  // A handshake record header that announces 64 bytes, then bytes that are no ClientHello.
  std::string bogus("\x16\x03\x01\x00\x40", 5);
  bogus += std::string(64, '\x07');
  c.send(bogus);
  const std::string got = c.read_all();  // an alert at most, then the close
  EXPECT_LE(got.size(), 7u);
  EXPECT_TRUE(testing::eventually([&] { return srv->connection_count() == 0; }));
}

TEST_P(tls_server, a_stalled_handshake_ends_at_its_timeout_and_holds_a_connection_slot_meanwhile) {
  http::server_options o;
  o.tls_handshake_timeout = std::chrono::milliseconds(300);
  o.max_connections = 1;
  auto srv = start(o);
  http_client stalled(srv->port());
  stalled.send(std::string("\x16\x03\x01\x02\x00", 5));  // a ClientHello's header, and no more
  ASSERT_TRUE(testing::eventually([&] { return srv->connection_count() == 1; }));
  http_client refused(srv->port());  // over max_connections while the handshake is open
  EXPECT_TRUE(refused.closed_by_server());
  EXPECT_TRUE(stalled.closed_by_server());  // the handshake's timeout ended it
  EXPECT_TRUE(testing::eventually([&] { return srv->connection_count() == 0; }));
  tls_http_client later(srv->port(), verified());  // the slot is free again
  EXPECT_TRUE(later.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
}

TEST_P(tls_server, a_truncated_record_after_the_handshake_closes_the_connection) {
  auto srv = start();
  tls_http_client c(srv->port(), verified());
  ASSERT_TRUE(c.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  // Half an application-data record on the raw socket, then the client leaves.
  const std::string half("\x17\x03\x03\x00\x80\x01\x02\x03", 8);
  ASSERT_EQ(::send(c.fd(), half.data(), half.size(), MSG_NOSIGNAL), 8);
  ::shutdown(c.fd(), SHUT_WR);
  EXPECT_TRUE(testing::eventually([&] { return srv->connection_count() == 0; }));
}

TEST_P(tls_server, a_forged_record_is_refused_and_the_connection_closed) {
  auto srv = start();
  tls_http_client c(srv->port(), verified());
  ASSERT_TRUE(c.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string forged("\x17\x03\x03\x00\x20", 5);
  forged += std::string(32, '\x42');  // whole, but it does not decrypt
  ASSERT_EQ(::send(c.fd(), forged.data(), forged.size(), MSG_NOSIGNAL), static_cast<ssize_t>(forged.size()));
  EXPECT_TRUE(testing::eventually([&] { return srv->connection_count() == 0; }));
}

TEST_P(tls_server, plain_and_tls_ports_side_by_side) {
  http::server_options o;
  o.tls_port = 0;
  auto srv = start(o);
  ASSERT_NE(srv->tls_port(), srv->port());
  http_client plain(srv->port());
  auto p = plain.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->body, "hello over tls");
  tls_http_client secure(srv->tls_port(), verified());
  auto s = secure.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->body, "hello over tls");
}

TEST_P(tls_server, a_reload_serves_the_new_certificate_and_keeps_open_connections_and_tickets) {
  const std::string cert = pki_.dir() + "/live.pem", key = pki_.dir() + "/live.key";
  auto old_leaf = pki_.issue("old", {"localhost"});
  std::filesystem::copy_file(old_leaf.first, cert);
  std::filesystem::copy_file(old_leaf.second, key);
  http::server_options o;
  o.tls.certificates = {{cert, key}};
  auto srv = start(o);
  tls_http_client open(srv->port(), verified());
  ASSERT_TRUE(open.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_EQ(open.peer_cn(), "localhost");
  SSL_SESSION* ticket = open.session();

  auto new_leaf = pki_.issue("new", {"new.localhost", "localhost"});
  std::filesystem::copy_file(new_leaf.first, cert, std::filesystem::copy_options::overwrite_existing);
  std::filesystem::copy_file(new_leaf.second, key, std::filesystem::copy_options::overwrite_existing);
  ASSERT_TRUE(srv->reload_tls());

  EXPECT_TRUE(open.request("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));  // not dropped
  tls_http_client fresh(srv->port(), verified());
  EXPECT_EQ(fresh.peer_cn(), "new.localhost");
  auto o2 = verified();
  o2.resume = ticket;
  tls_http_client resumed(srv->port(), o2);
  EXPECT_TRUE(resumed.resumed());
  SSL_SESSION_free(ticket);

  // A broken file is refused, and the certificate in use stays.
  { std::ofstream(key, std::ios::trunc) << "not a key"; }
  EXPECT_FALSE(srv->reload_tls());
  tls_http_client still(srv->port(), verified());
  EXPECT_EQ(still.peer_cn(), "new.localhost");
}

TEST_P(tls_server, a_certificate_that_cannot_be_read_fails_start) {
  http::server_options o;
  o.tls.certificates = {{pki_.dir() + "/missing.pem", leaf_.second}};
  EXPECT_THROW(start(o), std::system_error);
}

// Kernel TLS: where the kernel has the tls module the session's records could go to it; where
// it has not, the server says so once and serves files in user-space records.
TEST_P(tls_server, kernel_tls_absent_falls_back_to_user_space_records) {
  // Probe the kernel as the server does: TCP_ULP "tls" on a connected loopback socket.
  auto srv_probe = start();
  http_client probe(srv_probe->port());
  const bool has_ktls = ::setsockopt(probe.fd(), SOL_TCP, TCP_ULP, "tls", sizeof "tls") == 0;
  if (has_ktls) GTEST_SKIP() << "this kernel has kernel TLS: the fallback path cannot be reached here";
  tls_http_client c(srv_probe->port(), verified());
  auto r = c.request("GET /static/file.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->body == testing::pattern_bytes(300'000));
}

TEST_P(tls_server, kernel_tls_present_carries_files) {
  auto srv = start();
  http_client probe(srv->port());
  if (::setsockopt(probe.fd(), SOL_TCP, TCP_ULP, "tls", sizeof "tls") != 0)
    GTEST_SKIP() << "this kernel refuses TCP_ULP \"tls\" (" << std::strerror(errno) << "): no kernel TLS to test";
  tls_http_client c(srv->port(), verified());
  auto r = c.request("GET /static/file.bin HTTP/1.1\r\nHost: x\r\n\r\n");
  ASSERT_TRUE(r);
  EXPECT_TRUE(r->body == testing::pattern_bytes(300'000));
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(tls_server);

}  // namespace
}  // namespace c10k
