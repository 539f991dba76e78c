// server: an HTTP/1.1 server: one loop per thread, each with its own SO_REUSEPORT listener,
// one coroutine per connection (or one fiber: server_options::fiber_connections), and a
// graceful stop.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "c10k/http/parser.hpp"
#include "c10k/http/router.hpp"
#include "c10k/result.hpp"

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
  std::size_t max_connections = 10'000;          // over it, new connections are closed at once
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

  // Each connection on a fiber of its own that runs its coroutine on the fiber's stack
  // (fiber_options::hosts_coroutines): blocking-style handlers (router.hpp) then run on the
  // connection's fiber instead of on a fiber per request, for a stack per connection, of which
  // only the touched pages are resident. fiber_stack_size 0: fiber_stack_pool's default.
  bool fiber_connections = false;
  std::size_t fiber_stack_size = 0;

  // How long a graceful stop waits for requests in flight before closing what is left.
  std::chrono::milliseconds drain_timeout{10'000};
};

// What the server has done so far, summed over its loops.
struct server_stats {
  std::uint64_t connections = 0;     // open now
  std::uint64_t requests = 0;        // requests answered
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
  // wait(); returns start()'s error.
  result<void> run();

  // The port the server listens on (useful after binding port 0).
  std::uint16_t port() const noexcept { return port_; }
  const server_options& options() const noexcept { return options_; }
  // The backend the loops run on once started ("epoll" when io_uring was asked for but refused).
  std::string_view backend_name() const noexcept { return backend_name_; }
  // Connections open right now, summed over the loops (approximate while they change).
  std::size_t connection_count() const noexcept;
  // The counters of every loop, summed; callable from any thread, also after the loops ended.
  server_stats stats() const noexcept;

  struct impl;

 private:
  std::unique_ptr<impl> impl_;
  server_options options_;
  std::uint16_t port_ = 0;
  std::string_view backend_name_;
};

}  // namespace c10k::http
