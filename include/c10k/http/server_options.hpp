// server_options: every knob of an HTTP server (listening, limits, timeouts, connection mode),
// each with a default.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "c10k/http/parser.hpp"
#include "c10k/tls/context.hpp"

namespace c10k::http {

struct server_options {
  std::string host = "0.0.0.0";
  std::uint16_t port = 8080;        // 0 picks a free port (see server::port())
  unsigned threads = 0;             // event loops; 0 = one per CPU
  std::string backend = "auto";     // io_uring where it works, else epoll; see available_backends()
  unsigned accept_limit = 0;        // connections accepted per readiness event; 0 = unlimited
  int backlog = 4096;
  bool pin_cpus = false;            // pin loop i to CPU i
  // Limits, each answered with its status code (see parser.hpp for the head's: 414, 431).
  parse_limits limits{};                         // request line, header block and header count
  std::size_t max_body_bytes = 8 << 20;          // 413, sent as soon as Content-Length shows it
  std::size_t max_requests_per_connection = 10'000;  // the last response says Connection: close
  std::size_t max_connections = 0;               // over it, new connections are closed at accept;
                                                 // 0: what the fd limit allows at start(), less
                                                 // a reserve (server::max_connections())
  std::size_t max_unsent_bytes = 1 << 20;        // pipelined responses held before writing some

  // Timeouts; each expiry closes the connection (408 first when a request was under way).
  std::chrono::milliseconds header_timeout{10'000};     // a whole request head, from its first
                                                        // byte (or from accept); progress does
                                                        // not extend it: slowloris
  std::chrono::milliseconds body_timeout{10'000};       // silence while a body arrives
  std::size_t min_body_bytes_per_second = 1024;         // a body's average rate once body_timeout
                                                        // has passed: slow POST
  std::chrono::milliseconds keepalive_timeout{60'000};  // idle between requests
  std::chrono::milliseconds send_timeout{10'000};       // a write that makes no progress: slow reader
  // Lingering close (after a refused request, or with input left unread): the server stops
  // sending and reads and drops what the client still sends, so that a reset does not destroy
  // the response on its way; each read may wait lingering_timeout, all of it lingering_time
  // (nginx's lingering_timeout and lingering_time).
  std::chrono::milliseconds lingering_timeout{2'000};
  std::chrono::milliseconds lingering_time{30'000};
  // Requests a connection answers in one go before it lets the loop turn (timers, other
  // clients, a graceful stop): a client that pipelines without pause cannot hold a loop.
  unsigned requests_per_turn = 64;

  // Each connection on a fiber of its own that runs its coroutine on the fiber's stack
  // (fiber_options::hosts_coroutines): blocking-style handlers (router.hpp) then run on the
  // connection's fiber instead of on a fiber per request, for a stack per connection, of which
  // only the touched pages are resident. fiber_stack_size 0: fiber_stack_pool's default.
  bool fiber_connections = false;
  std::size_t fiber_stack_size = 0;

  // Request deadlines (off by default). With request_timeout > 0, each handler runs in a
  // cancel_scope whose deadline is that long after the handler starts; with deadline_header
  // set (e.g. "X-Request-Timeout-Ms"), a request carrying that header with a number of
  // milliseconds gets that deadline instead when it is tighter (a caller passing on its
  // remaining budget, like gRPC's grpc-timeout; a value that is not plain digits is ignored).
  // The handler, and everything it awaits, inherits the deadline (current_scope()->remaining()
  // is the budget to pass upstream). When it passes, the handler's waits end with
  // errc::timed_out; a handler that then returns gets its response sent (typically its own
  // 504), one that throws gets 504 Gateway Timeout instead of the usual 500.
  std::chrono::milliseconds request_timeout{0};
  std::string deadline_header{};

  // Observability (each off by default, and free when off).
  // Per-loop counters of requests, durations, connections, bytes and the loops themselves, in
  // the Prometheus text format from server::metrics_text() (or metrics_handler(), metrics.hpp).
  bool metrics = false;
  // One line per request to this file ("-": standard output), nginx's combined format, or
  // JSON lines with access_log_json. Lines are buffered per loop and written by a thread of
  // the server's, at the latest access_log_flush after the request; server::run() reopens the
  // file on SIGHUP (logrotate), as does server::reopen_access_log().
  std::string access_log{};
  bool access_log_json = false;
  std::chrono::milliseconds access_log_flush{1'000};

  // Stall watchdog: a thread of the server's logs a warning when a loop has not come back to
  // its poll for longer than this (a handler blocking the loop thread), once per stall, naming
  // the request whose handler runs (100 ms is a good value; the sample server uses it). 0, the
  // default: no watchdog (no thread, and nothing per request), like the other opt-in
  // observability of a server.
  std::chrono::milliseconds stall_threshold{0};

  // TLS (OpenSSL 3), off while tls.certificates is empty. Without tls_port the server's one
  // port speaks TLS; with it, `port` stays plain HTTP and tls_port speaks TLS (0 picks a free
  // port: server::tls_port()). A handshake must be over within tls_handshake_timeout of accept
  // and counts against max_connections; one that fails closes its connection with one debug
  // log line, and plain HTTP sent to a TLS port gets a plain-text 400 and a close. run()
  // reloads the certificates on SIGHUP (server::reload_tls()) without closing connections.
  tls::server_config tls{};
  std::optional<std::uint16_t> tls_port{};
  std::chrono::milliseconds tls_handshake_timeout{10'000};

  // How long a graceful stop waits for requests in flight before closing what is left.
  std::chrono::milliseconds drain_timeout{10'000};
};

}  // namespace c10k::http
