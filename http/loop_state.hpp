// What one loop of the server shares among its connections (private to c10k::http).
#pragma once

#include <atomic>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "c10k/cancel.hpp"
#include "c10k/event_loop.hpp"
#include "c10k/http/router.hpp"
#include "c10k/http/server_options.hpp"
#include "c10k/tcp_listener.hpp"
#include "c10k/tls/context.hpp"
#include "access_log.hpp"
#include "loop_metrics.hpp"
#include "stall_watchdog.hpp"

namespace c10k::http {

// A connection as its loop sees it, for a graceful stop: linked into loop_state while open.
struct connection_entry {
  connection_entry* prev = nullptr;
  connection_entry* next = nullptr;
};

struct connection_work;

// What a burst of requests needs (reader and writer buffers), kept per loop for the next burst
// of any connection, so an idle connection holds none of it and a busy one allocates nothing.
class work_pool {
 public:
  work_pool();
  work_pool(const work_pool&) = delete;
  ~work_pool();
  // A reset work object: a kept one, or a new one.
  connection_work* acquire();
  // Takes w back (at most a bounded number are kept; the rest are freed).
  void release(connection_work* w) noexcept;

 private:
  std::vector<connection_work*> free_;
};

// The connection cap every loop of one server shares: a connection takes its slot when it is
// accepted, before its coroutine is spawned, so a burst accepted in one go cannot overshoot it.
struct connection_cap {
  std::size_t limit = 0;              // max_connections in force (derived from the fd limit for 0)
  std::atomic<std::size_t> open{0};   // connections accepted and not yet ended, over every loop
  std::atomic<bool> reported{false};  // the cap was logged; again only after falling 10% below it

  // Takes a slot for a connection being accepted; returns false at the cap.
  bool reserve() noexcept {
    if (open.fetch_add(1, std::memory_order_relaxed) < limit) return true;
    open.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  void release() noexcept {
    const std::size_t before = open.fetch_sub(1, std::memory_order_relaxed);
    if (before < limit - limit / 10) reported.store(false, std::memory_order_relaxed);
  }
};

// The server's TLS context, which a certificate reload replaces while the loops accept: each
// TLS connection takes the one current at its accept and keeps it.
class tls_source {
 public:
  tls::context current() const {
    std::lock_guard lock(mu_);
    return ctx_;
  }
  void replace(tls::context c) {
    std::lock_guard lock(mu_);
    ctx_ = std::move(c);
  }

 private:
  mutable std::mutex mu_;
  tls::context ctx_;
};

struct loop_state {
  event_loop* loop = nullptr;
  const router* routes = nullptr;
  const server_options* options = nullptr;
  tcp_listener listener;      // plain HTTP, or TLS when tls_port is unset
  tcp_listener tls_listener;  // TLS, when server_options::tls_port is set
  const tls_source* tls = nullptr;  // the server's, when TLS is on
  bool draining = false;
  unsigned accepting = 0;     // accept loops still running
  connection_entry* connections = nullptr;
  std::atomic<std::size_t> connection_count{0};
  connection_cap* cap = nullptr;  // the server's; the accept loop reserves, unlink() releases
  counter requests;     // answered on this loop
  counter head_parses;  // request heads parsed on this loop (a head in pieces may take two)
  work_pool work;
  // Observability, each null when off; `observing` is the one test per request when both are.
  std::unique_ptr<loop_metrics> metrics;
  std::unique_ptr<access_log_buffer> access_log;
  bool observing = false;
  // The request line of the handler running, for the stall watchdog (null when it is off).
  std::unique_ptr<stall_probe> probe;
  // The loop's published activity while it runs (cleared, like live_counters, when it ends).
  std::atomic<const loop_activity*> live_activity{nullptr};
  // The backend's counters while the loop runs; when it ends, a copy (the backend dies with it).
  std::atomic<const backend_counters*> live_counters{nullptr};
  backend_counters final_counters;
  cancel_scope accept_scope;  // cancelled to stop the accept loop's back-off sleeps

  void link(connection_entry& c) noexcept {
    c.next = connections;
    if (connections) connections->prev = &c;
    connections = &c;
    connection_count.fetch_add(1, std::memory_order_relaxed);
  }
  void unlink(connection_entry& c) noexcept {
    if (c.prev) c.prev->next = c.next;
    else connections = c.next;
    if (c.next) c.next->prev = c.prev;
    connection_count.fetch_sub(1, std::memory_order_relaxed);
    cap->release();  // the slot the accept loop reserved for this connection
    finish_drain_if_done();
  }
  // Ends the loop once a drain has nothing left to wait for.
  void finish_drain_if_done() noexcept {
    if (draining && !accepting && connections == nullptr) end_loop();
  }
  // Keeps the final counters and stops the loop.
  void end_loop() noexcept {
    live_activity.store(nullptr);
    if (access_log) access_log->flush();
    if (const backend_counters* c = live_counters.exchange(nullptr)) {
      final_counters.operations += c->operations;
      final_counters.syscalls += c->syscalls;
      final_counters.events += c->events;
      final_counters.buffers_in_use += c->buffers_in_use;
    }
    loop->stop();
  }
};

// Serves one connection until it closes: waits idle in a small object of its own, and serves
// each burst of requests in a coroutine (on a fiber, with fiber_connections) that ends when
// the connection is idle again.
// tls_ctx: a TLS connection's context (nullptr: plain HTTP), served by a task of its own.
void start_connection(tcp_stream stream, loop_state& state, const tls::context* tls_ctx = nullptr);
// Appends one line per connection of this loop saying what it waits on, since when, its
// deadline and its request line (the task dump; on the loop's own thread).
void describe_connections(const loop_state& state, std::string& out);
// Closes the connections of this loop that no task or fiber of the loop owns: those waiting idle
// and those a burst serves (a burst frees its own frame, outside the loop's list of tasks).
// Called when the loop is torn down.
void close_connections(loop_state& state) noexcept;
// Ends c's wait for a next request when it waits idle (a graceful stop); does nothing
// otherwise (a request that arrived anyway is answered).
void cancel_idle(connection_entry& c) noexcept;

}  // namespace c10k::http
