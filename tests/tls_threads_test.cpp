// TLS contexts shared across threads, on every backend (built with ThreadSanitizer by
// `make test-tsan`): one client context (its session cache) used by client loops on two
// threads at once, against a server of two loop threads whose context a certificate reload
// replaces meanwhile.
#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "backend_param.hpp"
#include "c10k/address.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/sync.hpp"
#include "c10k/tcp_stream.hpp"
#include "c10k/time.hpp"
#include "c10k/tls/stream.hpp"
#include "test_server.hpp"
#include "tls_support.hpp"

namespace c10k {
namespace {

using namespace std::chrono_literals;

struct client_counts {
  std::atomic<unsigned> ok{0};
  std::atomic<unsigned> resumed{0};
  std::atomic<unsigned> failed{0};
  std::mutex mu;
  std::string first_failure;

  void fail(std::string why) {
    ++failed;
    std::lock_guard lock(mu);
    if (first_failure.empty()) first_failure = std::move(why);
  }
};

// One HTTPS request on a connection of its own (Connection: close): the whole answer must be
// the 200 with the route's body.
task<void> one_request(const tls::context& ctx, std::uint16_t port, client_counts& counts) {
  auto s = co_await with_timeout(10s, connect(address::loopback(port)));
  if (!s) co_return counts.fail("connect: " + s.error().message());
  auto secure = tls::stream::connect(ctx, *s, "localhost", port);
  if (!secure) co_return counts.fail("tls::stream::connect: " + secure.error().message());
  if (auto h = co_await with_timeout(10s, secure->handshake()); !h)
    co_return counts.fail("handshake: " + h.error().message() + " " + std::string(secure->error_detail()));
  if (secure->resumed()) ++counts.resumed;
  static constexpr std::string_view req = "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n";
  const iovec v{const_cast<char*>(req.data()), req.size()};
  if (auto w = co_await secure->write_all(std::span<const iovec>(&v, 1)); !w) co_return counts.fail("write: " + w.error().message());
  std::string got;
  char buf[4096];
  for (;;) {
    auto n = co_await with_timeout(10s, secure->read(buf));
    if (!n) co_return counts.fail("read: " + n.error().message());
    if (*n == 0) break;
    got.append(buf, *n);
  }
  if (got.rfind("HTTP/1.1 200", 0) != 0 || !got.ends_with("\r\n\r\nshared")) co_return counts.fail("answer: " + got.substr(0, 100));
  ++counts.ok;
}

task<void> requests_in_turn(const tls::context& ctx, std::uint16_t port, unsigned n, client_counts& counts, wait_group& wg) {
  for (unsigned i = 0; i < n; ++i) co_await one_request(ctx, port, counts);
  wg.done();
}

task<void> client_run(const tls::context& ctx, std::uint16_t port, client_counts& counts) {
  wait_group wg;
  constexpr unsigned at_once = 8, each = 6;
  wg.add(at_once);
  for (unsigned i = 0; i < at_once; ++i) event_loop::current()->spawn(requests_in_turn(ctx, port, each, counts, wg));
  (void)co_await wg.wait();
}

class tls_threads : public testing::backend_test {};

TEST_P(tls_threads, client_loops_on_two_threads_share_one_context_while_the_server_reloads) {
  testing::test_pki pki;
  const auto leaf = pki.issue("localhost", {"localhost"});
  http::router routes;
  routes.get("/", [](http::request&) -> task<http::response> { co_return http::response::text(200, "shared"); });
  http::server_options o;
  o.threads = 2;
  o.tls.certificates.push_back({leaf.first, leaf.second});
  auto srv = testing::start_test_server(std::move(routes), backend_name(), std::move(o));

  tls::client_config cc;
  cc.ca_file = pki.ca_file();
  auto ctx = tls::context::client(cc);
  ASSERT_TRUE(ctx);
  client_counts counts;
  std::atomic<unsigned> running{2};
  std::vector<std::thread> clients;
  for (int t = 0; t < 2; ++t)
    clients.emplace_back([&] {
      event_loop loop(backend_name());
      loop.block_on(client_run(*ctx, srv->port(), counts));
      --running;
    });
  unsigned reloads = 0;
  while (running.load() > 0) {  // (bounded by the clients' own timeouts)
    if (srv->reload_tls()) ++reloads;
    std::this_thread::sleep_for(5ms);
  }
  for (auto& t : clients) t.join();

  EXPECT_EQ(counts.failed.load(), 0u) << counts.first_failure;
  EXPECT_EQ(counts.ok.load(), 2u * 8 * 6);
  EXPECT_GT(counts.resumed.load(), 0u) << "no connection resumed a session the other thread's connections left";
  EXPECT_GT(reloads, 0u);
  srv->stop();
  srv->wait();
  EXPECT_EQ(srv->connection_count(), 0u);
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(tls_threads);

}  // namespace
}  // namespace c10k
