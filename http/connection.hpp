// connection: one HTTP/1.1 connection of the server (private to c10k::http): what it keeps
// for its whole life, and the entry points of its parts: bursts of requests (connection.cpp),
// a task of its own for fiber and TLS connections (connection_hosted.cpp), and the task dump's
// line (connection_describe.cpp).
#pragma once

#include <coroutine>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <utility>

#include "c10k/address.hpp"
#include "c10k/cancel.hpp"
#include "c10k/operation.hpp"
#include "c10k/recv_buffer.hpp"
#include "c10k/task.hpp"
#include "c10k/tcp_stream.hpp"
#include "c10k/tls/context.hpp"
#include "c10k/tls/stream.hpp"
#include "connection_deadline.hpp"
#include "connection_io.hpp"
#include "connection_work.hpp"
#include "loop_metrics.hpp"
#include "loop_state.hpp"

namespace c10k::http {

// What a connection keeps for its whole life. Between requests this object is all there is of
// it (no coroutine frame): the socket, the deadline, and the wait for the next request, which
// resumes no coroutine but calls on_ready(), which starts a burst.
class connection final : public connection_entry {
 public:
  connection(tcp_stream s, loop_state& st, bool secure) : stream(std::move(s)), state(st), deadline(*st.loop), active_() {
    fiber_mode_ = st.options->fiber_connections;
    hosted_ = fiber_mode_ || secure;
    state.link(*this);
    if (state.observing) opened();
  }
  connection(const connection&) = delete;
  ~connection();

  // Waits, idle, for the first bytes of a next request (or closes, when the server drains).
  // `fresh`: called on accept, not at the end of a burst, so that bytes already there may start
  // a burst at once.
  void wait_idle(bool fresh = false);
  // True while it waits idle in this object alone (no task or fiber owns it then).
  bool hibernating() const noexcept { return waiting_; }
  // The burst serving it (coroutine mode), while one does; else a null handle.
  std::coroutine_handle<> running_burst() const noexcept { return waiting_ || hosted_ ? nullptr : active_.burst; }
  // Served by a task of its own (a fiber, or TLS): the scope of its idle wait or handshake,
  // while it waits there (nullptr: it does not).
  void set_hosted_wait(cancel_scope* s) noexcept { active_.hosted_wait = s; }
  // Served by a task of its own: the fiber serving it (0: a coroutine task), for the dump.
  void set_fiber_id(std::uint64_t id) noexcept {
    active_.fiber_id = id;
    active_.task_started = true;
  }
  // A TLS connection: its session, once the handshake is over (nullptr: none yet, or plain).
  tls::stream* tls() const noexcept { return hosted_ ? active_.tls : nullptr; }
  void set_tls(tls::stream* s) noexcept { active_.tls = s; }
  // The buffers of the burst serving it (nullptr: none), for the task dump.
  void set_work(connection_work* w) noexcept { active_.work = w; }
  // Appends what the connection waits on to out (the task dump; on its loop's thread).
  void describe(std::string& out) const;
  // Ends the wait for a next request, when it waits idle (the deadline, a graceful stop).
  void cancel_idle(std::error_code reason) noexcept {
    if (waiting_) state.loop->io().cancel(idle_);
    else if (hosted_ && active_.hosted_wait) active_.hosted_wait->cancel(reason);
  }
  // Records the burst that serves it now (a null handle when it ends).
  void set_running_burst(std::coroutine_handle<> b) noexcept { active_.burst = b; }

  tcp_stream stream;
  loop_state& state;
  connection_deadline deadline;
  // The client, once known: at the open when the access log is on, else at the first
  // request::peer().
  std::unique_ptr<address> peer;
  std::uint32_t served = 0;  // requests answered on this connection
  close_reason reason = close_reason::server;  // why it will close, as far as known (metrics)

  // Notes why the connection is about to close; returns false (for `co_return c.closing(...)`).
  bool closing(close_reason r) noexcept {
    reason = r;
    return false;
  }
  // Notes why a receive ended the connection (its error, or an empty receive: end of input).
  void receive_failed(std::error_code ec) noexcept {
    if (!ec || ec == std::errc::connection_aborted) reason = close_reason::client;
    else if (ec != std::errc::operation_canceled && ec != std::errc::timed_out) reason = close_reason::error;
  }

 private:
  static void on_ready(void* self);
  void opened() noexcept;
  void closed() noexcept;
  void start_burst(recv_buffer first);
  bool waiting_ = false;  // idle_ was started and on_ready has not taken its result yet
  bool fiber_mode_ = false;  // served on a fiber of its own (server_options::fiber_connections)
  bool hosted_ = false;      // served by a task of its own: fiber mode, or TLS
  // What the connection has while it is not waiting idle in this object (it fits in the
  // idle receive's room, so the dump's fields cost an idle connection nothing).
  struct active {
    std::coroutine_handle<> burst;        // coroutine mode: the burst serving it, if any
    cancel_scope* hosted_wait = nullptr;  // hosted: the scope of its idle wait or handshake
    connection_work* work = nullptr;      // the buffers of the burst serving it, if any
    std::uint64_t fiber_id = 0;           // fiber mode: the fiber serving it
    tls::stream* tls = nullptr;           // TLS: the session, after its handshake
    bool task_started = false;           // hosted: its task or fiber began to serve it
  };
  static_assert(sizeof(active) <= sizeof(operation));
  // Idle (waiting_): the receive, handed to the backend as it is, with no awaiter around it,
  // since this is what 10,000 idle connections each keep. Otherwise: `active_`.
  union {
    operation idle_;
    active active_;
  };
};

// Owns a connection while a burst serves it: the connection closes with the burst, unless the
// burst hands it back to its idle wait.
class burst_owner {
 public:
  explicit burst_owner(connection* c) noexcept : c_(c) {}
  burst_owner(burst_owner&& o) noexcept : c_(std::exchange(o.c_, nullptr)) {}
  burst_owner& operator=(burst_owner&&) = delete;
  ~burst_owner() { delete c_; }
  connection& operator*() const noexcept { return *c_; }
  connection* release() noexcept { return std::exchange(c_, nullptr); }

 private:
  connection* c_;
};

// Serves the requests that start with `first` until the connection is idle again (true) or
// must close (false); Coro is task<bool> on a task of the connection's own, the burst
// coroutine in coroutine mode (connection.cpp).
template <typename Coro>
Coro serve_requests(connection& c, recv_buffer first, cancel_scope* runs_in);
// Sends close_notify to a TLS peer, bounded at 1 s, outside the connection's scope.
task<void> send_close_notify(tls::stream& secure);
// Closes like nginx's lingering close (connection.cpp).
task<void> linger_close(connection_io& io);
// A connection's whole life on a task of its own: a fiber's (fiber_connections) or, for TLS,
// a coroutine task (connection_hosted.cpp).
task<void> serve_hosted(burst_owner owner, tls::context tls_ctx);

}  // namespace c10k::http
