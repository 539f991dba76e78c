// Thousands of connections with random cancellation, timeouts and abrupt closes, on every
// backend, with and without a storm of signals (no SA_RESTART) aimed at the loop threads; and
// the same over TLS, with handshakes stalled, garbled and cut, and certificate reloads meanwhile.
#include <gtest/gtest.h>

#include <optional>

#include "load_client.hpp"
#include "stress_fixture.hpp"

using namespace c10k;
using namespace c10k::stress;
using namespace std::chrono_literals;

namespace {

class stress_load : public stress_test {
 protected:
  void run(bool storm, bool tls = false) {
    watchdog guard(std::string(tls ? "the TLS load on " : "the load on ") + backend_name(), std::chrono::seconds(300));
    if (tls) use_tls();
    auto srv = start();
    load_config cfg;
    cfg.port = srv->port();
    cfg.backend = backend_name();
    // TLS: fewer sessions (each has a handshake or two more round trips, and the stalled ones
    // wait out a handshake timeout too).
    cfg.sessions = tls ? scaled(1200, 120) : scaled(2000, 200);
    cfg.tls = client_tls();
    // Under ASan a TLS client loop (every session's handshake on one thread) was seen taking
    // over 5 s to answer a server's first flight with 150 sessions at once: a third of them.
    cfg.concurrency = concurrency(tls && sanitized() ? 50 : 150);
    cfg.seed = seed_;
    std::optional<signal_storm> signals;
    if (storm) signals.emplace(threads, 100us);
    load_client client(cfg, &threads);
    // The storm's targets must stay joinable while it runs: wait for the end of the client's
    // loop, stop the storm, then join. A TLS server reloads its certificate meanwhile (what
    // SIGHUP does), every 100 ms: handshakes on both loop threads take the context while it is
    // replaced, and sessions begun on the old one finish on it.
    unsigned reloads = 0, reload_failures = 0;
    for (unsigned tick = 1; !client.finished(); ++tick) {
      std::this_thread::sleep_for(10ms);
      if (tls && tick % 10 == 0) ++(srv->reload_tls() ? reloads : reload_failures);
    }
    if (signals) signals->stop();
    client.join();

    const auto& t = client.tally();
    std::cout << "[ stress   ] " << t.summary() << "\n";
    if (signals)
      std::cout << "[ stress   ] signals sent " << signals->sent() << " to " << threads.size() << " threads; handled in this process so far "
                << no_restart_handler::delivered() << "\n";
    if (tls) std::cout << "[ stress   ] certificate reloads during the load: " << reloads << "\n";
    EXPECT_EQ(reload_failures, 0u);
    EXPECT_EQ(client.failure(), "");
    EXPECT_EQ(t.bad.load(), 0u) << t.summary();
    EXPECT_EQ(t.sessions.load(), cfg.sessions);
    EXPECT_GT(t.responses_ok.load(), cfg.sessions / 4) << "too few sessions completed to mean anything";
    EXPECT_GT(t.cut_by_client.load(), 0u);
    EXPECT_GT(t.server_closed.load(), 0u);
    if (signals) {
      EXPECT_GE(threads.size(), 2u) << "the storm reached no server loop";
      EXPECT_GT(signals->sent(), 0u);
    }
    EXPECT_GE(srv->stats().requests, t.responses_ok.load());
    expect_idle_and_serving(*srv);
    srv->stop();
    srv->wait();
    EXPECT_EQ(srv->connection_count(), 0u);
    EXPECT_EQ(counts.started.load(), counts.finished.load()) << "a handler never finished";
  }
};

}  // namespace

TEST_P(stress_load, thousands_of_connections_with_random_cancellation_timeouts_and_aborts) { run(false); }

TEST_P(stress_load, thousands_of_connections_under_a_signal_storm_without_sa_restart) { run(true); }

TEST_P(stress_load, tls_connections_with_random_cancellation_timeouts_aborts_and_broken_handshakes) { run(false, true); }

TEST_P(stress_load, tls_connections_under_a_signal_storm_without_sa_restart) { run(true, true); }

C10K_INSTANTIATE_FOR_EVERY_BACKEND(stress_load);
