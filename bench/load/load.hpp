// load: the load generator's core, callable as a library (c10k-load is a CLI around it).
//
// Three modes, each run on N event loops (c10k::runtime) that split the connections or the
// rate between them:
//   closed  N keep-alive connections, each keeping `pipeline` requests in flight (like wrk);
//   open    a new session every 1/rate seconds, `calls` requests each, the last one with
//           Connection: close so the server closes first (like httperf --rate);
//   idle    N connections held open, optionally after one request each, reopened when the
//           server closes them (like the paper's idleconn, without the FD_SETSIZE limit).
#pragma once

#include <cstdint>
#include <string>

#include "errors.hpp"
#include "histogram.hpp"

namespace c10k::load {

struct load_config {
  std::string mode = "closed";      // closed, open, idle
  std::string host = "127.0.0.1";
  std::uint16_t port = 8080;
  std::string backend = "auto";     // the event mechanism (c10k::make_backend's names)
  unsigned threads = 1;             // event loops, one thread each

  // What to request: `path` for the plain workload; for specweb, the SPECweb99-like mix
  // (specweb.hpp) of the set for `seed` and `dirs`, under `prefix`.
  std::string workload = "plain";   // plain, specweb
  std::string path = "/plain";
  std::uint64_t seed = 1;
  unsigned dirs = 10;
  std::string prefix = "/static/specweb/";

  double duration_s = 10;           // the measured window; idle: 0 = until SIGINT/SIGTERM
  double warmup_s = 0;              // before the window: load runs, nothing is counted but errors
  double timeout_s = 5;             // the longest wait for a connect or a reply
  unsigned source_addrs = 16;       // loopback targets: bind to 127.0.0.1 .. 127.0.0.N (0: no bind)
  unsigned max_connecting = 256;    // closed, idle: connects in flight at once (spares the backlog)

  std::uint64_t connections = 64;   // closed, idle
  unsigned pipeline = 1;            // closed: requests in flight per connection
  double rate = 100;                // open: sessions started per second
  unsigned calls = 1;               // open: requests per session
  bool request = false;             // idle: one request per connection before going idle
  std::string ready_file;           // idle: created once every connection is open
  bool verbose = true;              // idle: print progress lines to stdout
};

struct load_result {
  std::string mode;
  double duration_s = 0;        // the measured window
  std::uint64_t connections = 0;  // closed, idle: the connections asked for; open: sessions started in the window
  unsigned pipeline = 1;
  double offered_rate = 0;      // open: rate * calls, requests/s; 0 otherwise
  std::uint64_t requests = 0;   // requests sent in the window
  std::uint64_t replies = 0;    // 2xx/3xx replies completed in the window
  double reply_rate = 0;        // replies / duration_s
  std::uint64_t bytes_received = 0;  // in the window, heads and bodies
  error_counts errors;          // over the whole run, warm-up included
  histogram latency_us;         // per successful reply in the window (open: the first request of a session includes its connect)
  std::uint64_t reopened = 0;   // idle: connections reopened after the server closed them
};

// Runs the load `config` describes and returns what it measured. Blocks for warm-up plus
// duration (open: plus up to timeout for the sessions in flight), or until SIGINT/SIGTERM
// when the calling thread is the one that receives them. Throws std::invalid_argument for a
// bad configuration and std::system_error when a loop cannot be set up.
load_result run_load(const load_config& config);

// Returns the result as one JSON object (the fields of load_result, latency as p50, p90, p99,
// p999, max, mean in microseconds).
std::string to_json(const load_result& r);
// Returns a short human summary, a few lines.
std::string summary(const load_result& r);

// Raises this process's soft limit on open files to the hard limit; returns the new soft limit.
std::uint64_t raise_fd_limit() noexcept;

}  // namespace c10k::load
