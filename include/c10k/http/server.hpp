// server: an HTTP/1.1 server: one loop per thread, each with its own SO_REUSEPORT listener,
// one coroutine per connection (or one fiber: server_options::fiber_connections), and a
// graceful stop.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "c10k/http/router.hpp"
#include "c10k/http/server_options.hpp"
#include "c10k/result.hpp"

namespace c10k::http {

// What the server has done so far, summed over its loops.
struct server_stats {
  std::uint64_t connections = 0;     // open now
  std::uint64_t requests = 0;        // requests answered
  std::uint64_t head_parses = 0;     // request heads parsed (one per request, two at most
                                     // for a head that arrives in pieces)
  std::uint64_t operations = 0;      // backend operations started
  std::uint64_t syscalls = 0;        // system calls the backends made
  std::uint64_t events = 0;          // readiness or completion events the kernel returned
  std::uint64_t buffers_in_use = 0;  // receive buffers lent out now
};

class server {
 public:
  server(router routes, server_options options = {});
  server(const server&) = delete;
  server& operator=(const server&) = delete;
  // Stops (gracefully) and waits for the loops.
  ~server();

  // Binds every listener and starts the loops; returns once the server accepts connections,
  // or the error binding hit (address_in_use, invalid_argument for a bad host or backend, ...).
  result<void> start();
  // Stops gracefully: no new connections, requests in flight finish (their responses say
  // Connection: close), idle keep-alive connections close. Returns at once. Thread-safe.
  void stop();
  // Waits until every loop has ended.
  void wait();
  // start() unless already started, then serve until SIGINT or SIGTERM, then stop() and
  // wait(); returns start()'s error. Meanwhile SIGHUP reopens the access log and reloads the
  // TLS certificates, and SIGUSR1 writes dump_tasks() to stderr.
  result<void> run();

  // The port the server listens on (useful after binding port 0).
  std::uint16_t port() const noexcept { return port_; }
  // The port that speaks TLS once started: port() without server_options::tls_port, the
  // bound tls_port with it; 0 when TLS is off.
  std::uint16_t tls_port() const noexcept { return tls_port_; }
  // Reads the TLS certificates and keys again (what run() does on SIGHUP): connections
  // accepted from now on use them, those open keep theirs, and session tickets still resume.
  // Returns bad_configuration (logged) when a file is refused: the old ones stay. Thread-safe.
  result<void> reload_tls();
  const server_options& options() const noexcept { return options_; }
  // The backend the loops run on once started ("epoll" when io_uring was asked for but refused).
  std::string_view backend_name() const noexcept { return backend_name_; }
  // The connection cap in force once started: options().max_connections, or, when that is 0,
  // what the soft RLIMIT_NOFILE leaves after a reserve (5%, at least 64) for other fds.
  std::size_t max_connections() const noexcept;
  // Connections open right now, summed over the loops (approximate while they change).
  std::size_t connection_count() const noexcept;
  // The counters of every loop, summed; callable from any thread, also after the loops ended.
  server_stats stats() const noexcept;
  // The server's metrics in the Prometheus text format 0.0.4: the request counters when
  // server_options::metrics is on, and the loops', backends', fibers' and helper pool's
  // gauges always. Callable from any thread while the server runs (a handler's included).
  std::string metrics_text() const;
  // Makes the access log (server_options::access_log) reopen its file by its path: what
  // run() does on SIGHUP, for logrotate. Thread-safe; nothing without an access log.
  void reopen_access_log() noexcept;
  // Returns once every access-log line of a request answered so far is written. Not from a
  // loop thread (it waits for each loop).
  void sync_access_log();
  // What every loop holds now, as text: per loop its turns, queue and timers, then each
  // connection (what it waits on: the operation, fd and peer, bytes so far, since when, its
  // deadline, its request line) and each parked fiber (id, name). Each loop writes its own part
  // on its own thread; one that does not answer within `timeout` shows as "no answer
  // (stalled?)". Blocks the caller until then: call it from a loop thread only through
  // offload() (a loop waiting for itself would show as stalled).
  std::string dump_tasks(std::chrono::milliseconds timeout = std::chrono::seconds(1)) const;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
  server_options options_;
  std::uint16_t port_ = 0;
  std::uint16_t tls_port_ = 0;
  std::string_view backend_name_;
};

}  // namespace c10k::http
