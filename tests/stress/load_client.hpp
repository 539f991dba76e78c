// The stress load: many client sessions on a c10k loop of their own thread (same backend as
// the server, so the client side's cancellation paths are exercised too), each a random mix
// of well-behaved requests, client timeouts, cancelled scopes, abrupt closes mid-request and
// mid-response, stalled heads and garbage; over TLS too, with handshakes stalled, garbled and
// cut. Every response a session completes is checked.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "c10k/tls/context.hpp"
#include "stress.hpp"

namespace c10k::stress {

// What the sessions saw; `bad` and `problems` are the failures.
struct load_tally {
  std::atomic<std::uint64_t> sessions{0};        // sessions started
  std::atomic<std::uint64_t> responses_ok{0};    // responses complete and correct
  std::atomic<std::uint64_t> cut_by_client{0};   // sessions the client cancelled, timed out or dropped on purpose
  std::atomic<std::uint64_t> server_closed{0};   // stalled or garbage sessions the server ended (408/400 or close)
  std::atomic<std::uint64_t> clean_closes{0};    // (stop mode) closed with no partial response
  std::atomic<std::uint64_t> refused{0};         // connects refused (stop mode: the end of a worker)
  std::atomic<std::uint64_t> bad{0};             // wrong, truncated or missing responses; hangs
  std::atomic<std::uint64_t> slowest_first_ms{0};  // the longest from connect to a first answer (told, not asserted)

  // Notes a first answer that took `ms`.
  void first_answer_took(std::uint64_t ms) {
    auto seen = slowest_first_ms.load();
    while (ms > seen && !slowest_first_ms.compare_exchange_weak(seen, ms)) {}
  }

  // Records a failure (the first 20 are kept with their text).
  void problem(std::string what) {
    ++bad;
    std::lock_guard lock(mutex_);
    if (problems_.size() < 20) problems_.push_back(std::move(what));
  }
  // One line of counts and the recorded failures.
  std::string summary() const;

 private:
  mutable std::mutex mutex_;
  std::vector<std::string> problems_;
};

struct load_config {
  std::uint16_t port = 0;
  std::string backend;
  std::size_t sessions = 1000;   // sessions to run in all (ignored in stop mode)
  std::size_t concurrency = 200; // sessions at once
  std::uint64_t seed = 1;
  // Stop mode: well-behaved keep-alive sessions only, run until connects are refused (the
  // server stopped); a connection the server closes with no partial response is a clean close.
  bool stop_mode = false;
  // Session kinds to draw from; empty: the full mix.
  std::vector<int> only_kinds;
  // A client context (verifying the server as "localhost"): every session speaks TLS through
  // c10k::tls::stream, and the mix adds stalled, garbled and cut handshakes. Loads on several
  // threads may share one (its session cache is shared).
  tls::context tls;
};

// Runs a load on its own thread from construction; join() waits for it.
class load_client {
 public:
  // Starts the load; the client loop's thread notes itself in `signalled` (when given) so a
  // storm reaches it too.
  load_client(load_config config, thread_registry* signalled = nullptr);
  load_client(const load_client&) = delete;
  ~load_client() { join(); }

  // Waits until every session ended.
  void join() {
    if (thread_.joinable()) thread_.join();
  }
  // Whether every session ended.
  bool finished() const { return finished_.load(); }
  // Asks the workers to start no further sessions (what runs finishes).
  void wind_down() { wind_down_ = true; }
  // The counts so far.
  const load_tally& tally() const { return tally_; }
  // The error that ended the client thread abnormally (an exception), or "".
  const std::string& failure() const { return failure_; }

 private:
  void run();

  load_config config_;
  thread_registry* signalled_;
  load_tally tally_;
  std::atomic<bool> wind_down_{false};
  std::atomic<bool> finished_{false};
  std::string failure_;
  std::thread thread_;
};

}  // namespace c10k::stress
