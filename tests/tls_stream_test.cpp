// tls::stream on its own (no HTTP), client and server on one loop, on every backend.
#include <gtest/gtest.h>

#include <string>

#include "backend_param.hpp"
#include "c10k/address.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/tcp_listener.hpp"
#include "c10k/tcp_stream.hpp"
#include "c10k/time.hpp"
#include "c10k/tls/stream.hpp"
#include "tls_support.hpp"

namespace c10k {
namespace {

using namespace std::chrono_literals;

class tls_stream_test : public testing::backend_test {
 protected:
  void SetUp() override {
    testing::backend_test::SetUp();
    if (IsSkipped()) return;
    const auto leaf = pki_.issue("localhost", {"localhost"});
    tls::server_config sc;
    sc.certificates.push_back({leaf.first, leaf.second});
    auto s = tls::context::server(sc);
    ASSERT_TRUE(s);
    server_ = *s;
    tls::client_config cc;
    cc.ca_file = pki_.ca_file();
    auto c = tls::context::client(cc);
    ASSERT_TRUE(c);
    client_ = *c;
  }

  testing::test_pki pki_;
  tls::context server_, client_;
};

// The client: a handshake, then three records of 4 KiB in one socket write, then it waits for
// the server's one-byte answer.
task<void> three_records_at_once(tls::context ctx, std::uint16_t port, std::string& failure) {
  auto s = co_await with_timeout(10s, connect(address::loopback(port)));
  if (!s) co_return void(failure = "connect: " + s.error().message());
  auto c = tls::stream::connect(ctx, *s, "localhost", port);
  if (!c) co_return void(failure = "tls::stream::connect");
  if (auto h = co_await with_timeout(10s, c->handshake()); !h) co_return void(failure = "client handshake: " + h.error().message());
  std::string a(4096, 'a'), b(4096, 'b'), d(4096, 'c');
  const iovec iov[3] = {{a.data(), a.size()}, {b.data(), b.size()}, {d.data(), d.size()}};
  auto sealed = c->seal(iov);  // (each piece of 4 KiB or more is a record of its own)
  if (!sealed) co_return void(failure = "seal");
  auto w = co_await s->write_all(std::string_view(sealed->data(), sealed->size()));
  c->output_sent();
  if (!w) co_return void(failure = "write: " + w.error().message());
  char x;
  if (auto n = co_await with_timeout(10s, c->read(std::span<char>(&x, 1))); !n || *n != 1) failure = "no answer";
}

// Records already received are read on into the caller's buffer, not one record per read: a
// peer's many small records (a streamed body's chunks, pipelined requests) would otherwise
// cost a read (and a parse of what came so far) each.
TEST_P(tls_stream_test, a_read_returns_every_record_already_received_that_fits) {
  event_loop loop(backend_name());
  std::string failure;
  std::size_t first_read = 0;
  std::string all;
  loop.block_on([&]() -> task<void> {
    auto listener = tcp_listener::bind(address::loopback(0));
    if (!listener) co_return void(failure = "bind");
    auto client = event_loop::current()->spawn(three_records_at_once(client_, listener->local_address().port(), failure));
    auto conn = co_await with_timeout(10s, listener->accept());
    if (!conn) co_return void(failure = "accept");
    auto srv = tls::stream::accept(server_, *conn);
    if (!srv) co_return void(failure = "tls::stream::accept");
    if (auto h = co_await with_timeout(10s, srv->handshake()); !h) co_return void(failure = "server handshake: " + h.error().message());
    std::string buf(65536, '\0');
    while (all.size() < 3 * 4096) {
      auto n = co_await with_timeout(10s, srv->read(buf));
      if (!n || *n == 0) co_return void(failure = "server read");
      if (first_read == 0) first_read = *n;
      all.append(buf.data(), *n);
    }
    const iovec one{const_cast<char*>("!"), 1};
    (void)co_await srv->write_all(std::span<const iovec>(&one, 1));
    (void)co_await client;
  }());
  ASSERT_EQ(failure, "");
  EXPECT_EQ(all, std::string(4096, 'a') + std::string(4096, 'b') + std::string(4096, 'c'));
  EXPECT_EQ(first_read, 3u * 4096) << "one read returned one record of the three the socket had";
}

// A write cut midway (its timeout, a cancelled scope) may have cut a record: the stream then
// refuses further output instead of sending its queue again from the start (which the peer
// would read as a record that does not decrypt).
TEST_P(tls_stream_test, after_a_cut_write_the_stream_sends_nothing_more) {
  event_loop loop(backend_name());
  std::string failure;
  std::error_code cut, after;
  loop.block_on([&]() -> task<void> {
    auto listener = tcp_listener::bind(address::loopback(0));
    if (!listener) co_return void(failure = "bind");
    const std::uint16_t port = listener->local_address().port();
    auto s = co_await with_timeout(10s, connect(address::loopback(port)));
    if (!s) co_return void(failure = "connect");
    auto conn = co_await with_timeout(10s, listener->accept());
    if (!conn) co_return void(failure = "accept");
    auto srv = tls::stream::accept(server_, *conn);
    auto cli = tls::stream::connect(client_, *s, "localhost", port);
    if (!srv || !cli) co_return void(failure = "streams");
    auto server_side = event_loop::current()->spawn(srv->handshake());  // then it reads nothing
    if (auto h = co_await with_timeout(10s, cli->handshake()); !h) co_return void(failure = "client handshake");
    (void)co_await server_side;
    std::string big(16 << 20, 'x');  // far more than the socket buffers hold
    const iovec all{big.data(), big.size()};
    auto w = co_await with_timeout(200ms, cli->write_all(std::span<const iovec>(&all, 1)));
    cut = w.error();
    const iovec tail{const_cast<char*>("tail"), 4};
    auto again = co_await with_timeout(2s, cli->write_all(std::span<const iovec>(&tail, 1)));
    after = again.error();
  }());
  ASSERT_EQ(failure, "");
  EXPECT_EQ(cut, std::errc::timed_out);
  EXPECT_EQ(after, tls::errc::protocol_error) << after.message() << " (the cut write's queue was sent again)";
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(tls_stream_test);

}  // namespace
}  // namespace c10k
