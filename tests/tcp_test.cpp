#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <numeric>
#include <string>
#include <vector>

#include "backend_param.hpp"
#include "c10k/tcp_listener.hpp"
#include "c10k/tcp_stream.hpp"
#include "c10k/time.hpp"

using namespace c10k;
using namespace std::chrono_literals;

namespace {

class tcp_test : public c10k::testing::backend_test {};

task<void> echo_once(tcp_listener& l) {
  auto s = co_await l.accept();
  if (!s) co_return;
  std::array<char, 4096> buf;
  for (;;) {
    auto n = co_await s->read(buf);
    if (!n || *n == 0) co_return;
    if (!co_await s->write_all(std::string_view(buf.data(), *n))) co_return;
  }
}

// Reads until the peer closes or `want` bytes arrived.
task<std::string> read_all(tcp_stream& s, std::size_t want = SIZE_MAX) {
  std::string out;
  std::array<char, 65536> buf;
  while (out.size() < want) {
    auto n = co_await s.read(buf);
    if (!n || *n == 0) break;
    out.append(buf.data(), *n);
  }
  co_return out;
}

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + i % 26);
  return s;
}

}  // namespace

TEST_P(tcp_test, echoes_what_a_client_sends) {
  event_loop loop(backend_name());
  auto l = tcp_listener::bind(address::loopback(0));
  ASSERT_TRUE(l) << l.error().message();
  loop.spawn(echo_once(*l));
  auto reply = loop.block_on([](address to) -> task<std::string> {
    auto s = co_await connect(to);
    if (!s) co_return "connect failed: " + s.error().message();
    (void)s->set_nodelay();
    std::string got;
    for (std::string msg : {"hello", " ", "world"}) {
      if (!co_await s->write_all(msg)) co_return "write failed";
      got += co_await read_all(*s, msg.size());
    }
    co_return got;
  }(l->local_address()));
  EXPECT_EQ(reply, "hello world");
}

TEST_P(tcp_test, moves_megabytes_through_a_full_socket_buffer) {
  event_loop loop(backend_name());
  auto l = tcp_listener::bind(address::loopback(0));
  ASSERT_TRUE(l);
  const std::string data = pattern(8 << 20);
  loop.spawn([](tcp_listener& l, const std::string& data) -> task<void> {
    auto s = co_await l.accept();
    if (!s) co_return;
    // Far more than the socket buffers hold: the writer must wait for the reader many times.
    (void)co_await s->write_all(data);
    s->close();
  }(*l, data));
  auto got = loop.block_on([](address to) -> task<std::string> {
    auto s = co_await connect(to);
    if (!s) co_return "";
    co_return co_await read_all(*s);
  }(l->local_address()));
  EXPECT_EQ(got.size(), data.size());
  EXPECT_TRUE(got == data);
}

TEST_P(tcp_test, writev_all_and_sendfile_deliver_every_byte_in_order) {
  event_loop loop(backend_name());
  auto l = tcp_listener::bind(address::loopback(0));
  ASSERT_TRUE(l);
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  const std::string file_body = pattern(300000);
  ASSERT_EQ(std::fwrite(file_body.data(), 1, file_body.size(), f), file_body.size());
  std::fflush(f);
  const std::string a = "head:", b = pattern(100000), c = ":tail|";
  loop.spawn([](tcp_listener& l, int file_fd, std::string a, std::string b, std::string c) -> task<void> {
    auto s = co_await l.accept();
    if (!s) co_return;
    std::vector<iovec> iov = {{a.data(), a.size()}, {b.data(), b.size()}, {c.data(), c.size()}};
    (void)co_await s->writev_all(iov);
    off_t off = 0;
    while (off < 300000) {
      auto n = co_await s->sendfile(file_fd, off, 300000 - off);
      if (!n || *n == 0) break;
      off += static_cast<off_t>(*n);
    }
    s->close();
  }(*l, fileno(f), a, b, c));
  auto got = loop.block_on([](address to) -> task<std::string> {
    auto s = co_await connect(to);
    if (!s) co_return "";
    co_return co_await read_all(*s);
  }(l->local_address()));
  EXPECT_TRUE(got == a + b + c + file_body);
  std::fclose(f);
}

TEST_P(tcp_test, connecting_to_a_closed_port_reports_connection_refused) {
  event_loop loop(backend_name());
  // Bind then close a listener so the port is known to be free.
  std::uint16_t port;
  {
    auto l = tcp_listener::bind(address::loopback(0));
    ASSERT_TRUE(l);
    port = l->local_address().port();
  }
  auto r = loop.block_on([](address to) -> task<std::error_code> {
    auto s = co_await connect(to);
    co_return s.error();
  }(address::loopback(port)));
  EXPECT_EQ(r, std::errc::connection_refused);
}

TEST_P(tcp_test, a_read_under_with_timeout_ends_with_timed_out_and_the_stream_stays_usable) {
  event_loop loop(backend_name());
  auto l = tcp_listener::bind(address::loopback(0));
  ASSERT_TRUE(l);
  loop.spawn(echo_once(*l));
  auto r = loop.block_on([](address to) -> task<std::string> {
    auto s = co_await connect(to);
    if (!s) co_return "connect failed";
    std::array<char, 16> buf;
    auto n = co_await with_timeout(20ms, s->read(buf));  // the echo server says nothing first
    if (n.error() != std::errc::timed_out) co_return "expected timed_out, got " + n.error().message();
    if (!co_await s->write_all("ping")) co_return "write failed";
    co_return co_await read_all(*s, 4);
  }(l->local_address()));
  EXPECT_EQ(r, "ping");
}

TEST_P(tcp_test, closing_a_listener_cancels_its_pending_accept) {
  event_loop loop(backend_name());
  auto l = tcp_listener::bind(address::loopback(0));
  ASSERT_TRUE(l);
  loop.spawn([](tcp_listener& l) -> task<void> {
    co_await sleep_for(5ms);
    l.close();
  }(*l));
  auto r = loop.block_on([](tcp_listener& l) -> task<std::error_code> { co_return (co_await l.accept()).error(); }(*l));
  EXPECT_EQ(r, std::errc::operation_canceled);
}

TEST_P(tcp_test, an_accept_limit_of_one_still_accepts_every_connection) {
  event_loop loop(backend_name());
  auto l = tcp_listener::bind(address::loopback(0), {.accept_limit = 1});
  ASSERT_TRUE(l);
  constexpr int clients = 50;
  int accepted = 0;
  loop.spawn([](tcp_listener& l, int& accepted) -> task<void> {
    std::vector<tcp_stream> keep;
    while (accepted < clients) {
      auto s = co_await l.accept();
      if (!s) co_return;
      ++accepted;
      keep.push_back(std::move(*s));
    }
  }(*l, accepted));
  auto connected = loop.block_on([](address to, const int& accepted) -> task<int> {
    std::vector<tcp_stream> streams;
    for (int i = 0; i < clients; ++i) {
      auto s = co_await connect(to);
      if (s) streams.push_back(std::move(*s));
    }
    // Wait (bounded) for the acceptor to catch up with connections the kernel already queued.
    for (int i = 0; i < 2000 && accepted < clients; ++i) co_await sleep_for(1ms);
    co_return static_cast<int>(streams.size());
  }(l->local_address(), accepted));
  EXPECT_EQ(connected, clients);
  EXPECT_EQ(accepted, clients);
}

TEST_P(tcp_test, binding_a_port_in_use_reports_address_in_use) {
  event_loop loop(backend_name());
  auto first = tcp_listener::bind(address::loopback(0), {.reuse_port = false});
  ASSERT_TRUE(first);
  auto second = tcp_listener::bind(first->local_address(), {.reuse_port = false});
  EXPECT_EQ(second.error(), std::errc::address_in_use);
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(tcp_test);

TEST(address, parses_numeric_hosts_and_refuses_names) {
  EXPECT_EQ(address::parse("127.0.0.1", 80)->to_string(), "127.0.0.1:80");
  EXPECT_EQ(address::parse("[::1]", 8080)->to_string(), "[::1]:8080");
  EXPECT_EQ(address::parse("localhost", 1)->to_string(), "127.0.0.1:1");
  EXPECT_EQ(address::parse("", 2)->to_string(), "0.0.0.0:2");
  EXPECT_EQ(address::parse("example.com", 80).error(), std::errc::invalid_argument);
}
