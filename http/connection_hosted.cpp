// A connection served by a task of its own for its whole life: on a fiber
// (server_options::fiber_connections), or, for TLS, a coroutine task in coroutine mode, with
// the handshake first and every byte through its tls::stream.
#include <string>

#include "c10k/fiber.hpp"
#include "c10k/log.hpp"
#include "c10k/time.hpp"
#include "connection.hpp"

namespace c10k::http {

namespace {

// Answers plain HTTP sent to a TLS port with a plain-text 400 (what nginx does too), then
// closes as after any refused request.
task<void> plain_http_hint(connection& c) {
  static constexpr std::string_view hint =
      "HTTP/1.1 400 Bad Request\r\nContent-Type: text/plain\r\nContent-Length: 48\r\nConnection: close\r\n\r\n"
      "This port speaks HTTPS, not plain HTTP: use TLS\n";
  (void)co_await with_timeout(std::chrono::seconds(1), c.stream.write_all(hint));
  cancel_scope scope;
  connection_io io{c.stream, scope, c.deadline, *c.state.options, *c.state.loop};
  co_await linger_close(io);
}

// A TLS connection's handshake, within tls_handshake_timeout of accept (a graceful stop ends
// it too); returns whether it succeeded. A failure closes the connection with one debug line.
task<bool> handshake(connection& c, const tls::context& ctx, tls::stream& secure) {
  auto made = tls::stream::accept(ctx, c.stream);
  if (!made) co_return c.closing(close_reason::error);
  secure = std::move(*made);
  cancel_scope scope;
  c.deadline.enter(connection_phase::handshake, c.state.loop->now() + c.state.options->tls_handshake_timeout);
  c.deadline.retarget(&scope);
  c.set_hosted_wait(&scope);
  const result<void> done = co_await in_scope(scope, secure.handshake());
  c.set_hosted_wait(nullptr);
  c.deadline.retarget(nullptr);
  if (done) {
    c.set_tls(&secure);
    co_return true;
  }
  c.reason = close_reason::tls_handshake;
  if (log_enabled(log_level::debug)) {  // (the peer's address only when it is written)
    const auto peer = c.stream.peer();
    log(log_level::debug, "TLS handshake from {} failed: {}{}{}", peer ? peer->to_string() : std::string("?"),
        done.error().message(), secure.error_detail().empty() ? "" : ": ", secure.error_detail());
  }
  if (done.error() == tls::errc::plain_http) co_await plain_http_hint(c);
  co_return false;
}

}  // namespace

// A connection's whole life on a task of its own: on a fiber (fiber_connections), which runs
// its coroutines on the fiber's stack, so blocking handlers block that fiber; or, for TLS in
// coroutine mode, as a coroutine task. It waits idle there too (no hibernation in the
// connection object: a TLS session's next bytes may already be inside OpenSSL).
task<void> serve_hosted(burst_owner owner, tls::context tls_ctx) {
  connection& c = *owner;
  const server_options& o = *c.state.options;
  const detail::fiber_core* f = detail::fiber_core::current();
  c.set_fiber_id(f ? f->id() : 0);
  cancel_scope* const fiber_scope = co_await current_scope();  // what the bursts run in
  tls::stream secure;
  if (tls_ctx) {
    const bool ok = co_await handshake(c, tls_ctx, secure);
    if (!ok) co_return;
  }
  for (;;) {
    if (c.state.draining) break;
    cancel_scope idle;  // the deadline, or a graceful stop, ends this wait alone
    c.deadline.enter(connection_phase::idle, c.state.loop->now() + (c.served == 0 ? o.header_timeout : o.keepalive_timeout));
    c.deadline.retarget(&idle);
    c.set_hosted_wait(&idle);
    result<recv_buffer> got = std::errc::io_error;
    if (tls_ctx) got = co_await in_scope(idle, secure.receive());
    else got = co_await in_scope(idle, c.stream.receive());
    c.set_hosted_wait(nullptr);
    c.deadline.retarget(nullptr);
    if (!got || got->empty()) {  // timed out, drained, or the client left: just close
      c.receive_failed(got ? std::error_code{} : got.error());
      break;
    }
    if (c.state.metrics) c.state.metrics->bytes_in += got->size();
    const bool idle_again = co_await serve_requests<task<bool>>(c, std::move(*got), fiber_scope);
    c.set_work(nullptr);
    if (!idle_again) break;
  }
  if (tls_ctx && c.reason != close_reason::client && c.reason != close_reason::refused) co_await send_close_notify(secure);
}

}  // namespace c10k::http
