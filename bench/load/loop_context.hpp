// loop_context: what one event loop of a load run shares with the others, and what it owns.
//
// The shared part (run_shared) is set up before the loops start and only read afterwards,
// except for the idle counters, which are atomics. Each loop owns a loop_context: its share of
// the connections or the rate, its workers, and its counts, which run_load merges once every
// loop has ended (so the counts need no synchronisation).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "c10k/address.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/sync.hpp"
#include "c10k/time.hpp"
#include "errors.hpp"
#include "histogram.hpp"
#include "load.hpp"
#include "scope_list.hpp"
#include "specweb.hpp"

namespace c10k::load {

struct run_shared {
  load_config cfg;
  address target;
  std::vector<address> sources;         // empty: no bind
  std::optional<specweb_set> specweb;   // the specweb workload's set
  std::string plain_request;            // the plain workload's request, keep-alive
  std::string plain_request_close;      // ... with Connection: close
  clock::time_point start;              // load begins
  clock::time_point window_from;        // start + warm-up
  clock::time_point window_until;       // window_from + duration (max() when unbounded)
  clock::duration timeout{};

  // idle: across all loops.
  std::atomic<std::uint64_t> idle_open{0};
  std::atomic<std::uint64_t> idle_reopened{0};
  std::atomic<std::uint64_t> idle_errors{0};
  std::atomic<bool> idle_announced{false};

  // Appends a GET of `path` to out (with Connection: close when `close`).
  void append_request(std::string& out, std::string_view path, bool close) const;
};

// Per-loop counts, merged into the load_result at the end.
struct loop_counts {
  std::uint64_t requests = 0;
  std::uint64_t replies = 0;
  std::uint64_t bytes = 0;
  std::uint64_t sessions = 0;
  std::uint64_t reopened = 0;
  error_counts errors;
};

struct loop_context {
  loop_context(run_shared& s, unsigned i, unsigned n) : shared(s), index(i), loops(n), connect_slots(std::max(1u, s.cfg.max_connecting / n)) {}

  run_shared& shared;
  unsigned index;                  // this loop's number, 0 .. loops-1
  unsigned loops;
  std::uint64_t connections = 0;   // closed, idle: this loop's share
  event_loop* loop = nullptr;

  bool stopping = false;           // set when the window closed or a stop was asked for
  event stop_requested;            // set (on this loop) by a signal
  scope_list active;               // every live worker's scope
  wait_group workers;              // every live worker
  semaphore connect_slots;         // connects in flight (closed, idle)
  std::uint64_t next_source = 0;

  loop_counts counts;
  histogram latency;

  const load_config& cfg() const noexcept { return shared.cfg; }
  // True when t lies in the measured window.
  bool in_window(clock::time_point t) const noexcept { return t >= shared.window_from && t < shared.window_until; }
  // The source address for the next connection (rotating), or nullptr for no bind.
  const address* source() noexcept {
    if (shared.sources.empty()) return nullptr;
    return &shared.sources[(index + loops * next_source++) % shared.sources.size()];
  }
  // Counts an error unless the run is stopping (then cancellations are expected); returns it.
  void count_error(std::error_code ec, error_phase phase) noexcept {
    if (stopping) return;
    counts.errors.add(classify(ec, phase));
  }
  // Records a reply that completed at `now` for a request sent at `sent`: a reply and its
  // latency when in the window and 2xx/3xx; an http error when its status is anything else.
  void count_reply(int status, clock::time_point sent, clock::time_point now) noexcept {
    const bool ok = status >= 200 && status < 400;
    if (!ok) {
      counts.errors.add(error_kind::http);
      return;
    }
    if (!in_window(now)) return;
    ++counts.replies;
    latency.record(static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(now - sent).count()));
  }
};

// A worker's membership in its loop: linked into `active` (so a stop cancels it) and counted
// in `workers` (added by whoever spawned it, done when it ends).
class worker_token {
 public:
  explicit worker_token(loop_context& ctx) noexcept : ctx_(&ctx), node_(ctx.active) {}
  worker_token(const worker_token&) = delete;
  worker_token& operator=(const worker_token&) = delete;
  ~worker_token() { ctx_->workers.done(); }
  cancel_scope& scope() noexcept { return node_.scope; }

 private:
  loop_context* ctx_;
  scope_list::node node_;
};

// The workers of each mode; each runs on the current loop until the run stops.
task<> closed_connection(loop_context& ctx, std::uint64_t number);
task<> open_generator(loop_context& ctx);
task<> idle_connection(loop_context& ctx, std::uint64_t number);
task<> idle_reporter(loop_context& ctx);

}  // namespace c10k::load
