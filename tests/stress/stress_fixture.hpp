// The fixture of the stress suites: a server on the backend under test with the stress routes
// (speaking TLS on its one port after use_tls()), and the invariants every run ends with.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <iostream>
#include <memory>

#include "backend_param.hpp"
#include "c10k/http/server.hpp"
#include "http_client.hpp"
#include "stress.hpp"
#include "stress_routes.hpp"
#include "test_server.hpp"
#include "tls_support.hpp"

namespace c10k::stress {

class stress_test : public c10k::testing::backend_test {
 protected:
  thread_registry threads;  // the storm's targets
  handler_counters counts;
  std::uint64_t seed_ = seed();

  void SetUp() override {
    backend_test::SetUp();
    if (IsSkipped()) return;
    std::cout << "[ stress   ] backend " << backend_name() << ", C10K_STRESS_SEED=" << seed_ << ", scale " << scale() << "\n";
  }

  // Options with short server-side timeouts, so that stalled clients meet them during a run;
  // not shorter: on a loaded 2-core machine a fresh connection was seen waiting up to 1.8 s for
  // its first read (epoll, poll), and a 300 ms header timeout then closed it unanswered.
  // Stretched by slowdown() under the sanitizers (see there), where the loops are that much
  // slower and the stalled clients still meet them well within the client's patience().
  static http::server_options short_timeouts() {
    http::server_options o;
    o.threads = 2;
    o.header_timeout = std::chrono::milliseconds(3000) * slowdown();
    o.body_timeout = std::chrono::milliseconds(3000) * slowdown();
    o.keepalive_timeout = std::chrono::seconds(5) * slowdown();
    o.send_timeout = std::chrono::seconds(2) * slowdown();
    return o;
  }

  // From now on start() makes a TLS server (a certificate for "localhost" from a throwaway CA,
  // a short handshake timeout), and client_tls() trusts it.
  void use_tls() {
    pki_ = std::make_unique<c10k::testing::test_pki>();
    leaf_ = pki_->issue("localhost", {"localhost", "127.0.0.1"});
    tls::client_config cc;
    cc.ca_file = pki_->ca_file();
    auto ctx = tls::context::client(cc);
    ASSERT_TRUE(ctx) << ctx.error().message();
    client_tls_ = std::move(*ctx);
  }
  // The client context of a TLS run (verifying against the test CA); empty before use_tls().
  const tls::context& client_tls() const { return client_tls_; }

  std::unique_ptr<http::server> start(http::server_options o = short_timeouts()) {
    if (pki_) {
      o.tls.certificates.push_back({leaf_.first, leaf_.second});
      // Short, so that stalled handshakes meet it during a run; but a handshake is two round
      // trips, each waiting on the same loaded loops as a first read (see above), and a load
      // over TLS was seen answering its first request 4.6 s after connect: 5 s, not 3.
      o.tls_handshake_timeout = std::chrono::milliseconds(5000) * slowdown();
    }
    return c10k::testing::start_test_server(stress_routes(threads, counts), backend_name(), std::move(o));
  }

  // Client sessions at once: select cannot watch fds at or above FD_SETSIZE, and the client
  // and the server share this process's fd table.
  std::size_t concurrency(std::size_t wanted) const { return backend_name() == "select" ? std::min<std::size_t>(wanted, 150) : wanted; }

  // After the clients closed: the server holds no connection and no receive buffer, and it
  // still answers. The waits are bounded; what is asserted is counts.
  void expect_idle_and_serving(http::server& srv) const {
    EXPECT_TRUE(c10k::testing::eventually([&] { return srv.connection_count() == 0; }, std::chrono::seconds(20)))
        << srv.connection_count() << " connections still open after every client closed";
    EXPECT_TRUE(c10k::testing::eventually([&] { return srv.stats().buffers_in_use == 0; }, std::chrono::seconds(20)))
        << srv.stats().buffers_in_use << " receive buffers still lent";
    std::unique_ptr<c10k::testing::http_client> c;
    if (pki_) {
      c10k::testing::tls_client_options o;
      o.ca_file = pki_->ca_file();
      o.server_name = "localhost";
      c = std::make_unique<c10k::testing::tls_http_client>(srv.port(), o);
    } else {
      c = std::make_unique<c10k::testing::http_client>(srv.port());
    }
    auto r = c->request(c10k::testing::get("/hello"));
    ASSERT_TRUE(r) << "the server did not answer after the run";
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "hello\n");
  }

 private:
  std::unique_ptr<c10k::testing::test_pki> pki_;
  std::pair<std::string, std::string> leaf_;
  tls::context client_tls_;
};

}  // namespace c10k::stress
