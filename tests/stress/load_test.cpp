// Thousands of connections with random cancellation, timeouts and abrupt closes, on every
// backend, with and without a storm of signals (no SA_RESTART) aimed at the loop threads.
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
  void run(bool storm) {
    watchdog guard("the load on " + backend_name(), std::chrono::seconds(300));
    auto srv = start();
    load_config cfg;
    cfg.port = srv->port();
    cfg.backend = backend_name();
    cfg.sessions = scaled(2000, 200);
    cfg.concurrency = concurrency(150);
    cfg.seed = seed_;
    std::optional<signal_storm> signals;
    if (storm) signals.emplace(threads, 100us);
    load_client client(cfg, &threads);
    // The storm's targets must stay joinable while it runs: wait for the end of the client's
    // loop, stop the storm, then join.
    while (!client.finished()) std::this_thread::sleep_for(10ms);
    if (signals) signals->stop();
    client.join();

    const auto& t = client.tally();
    std::cout << "[ stress   ] " << t.summary() << "\n";
    if (signals)
      std::cout << "[ stress   ] signals sent " << signals->sent() << " to " << threads.size() << " threads; handled in this process so far "
                << no_restart_handler::delivered() << "\n";
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

C10K_INSTANTIATE_FOR_EVERY_BACKEND(stress_load);
