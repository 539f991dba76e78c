// open: sessions started on a fixed schedule whatever the server's speed, like httperf --rate.
#include <optional>
#include <string>

#include "client_connection.hpp"
#include "loop_context.hpp"

namespace c10k::load {

namespace {

// One session: connect, `calls` requests one after another, the last with Connection: close,
// then wait for the server's close so that TIME_WAIT lands on its side.
task<> session_body(loop_context& ctx, std::uint64_t number) {
  const load_config& cfg = ctx.cfg();
  run_shared& shared = ctx.shared;
  const auto started = clock::now();
  if (ctx.in_window(started)) ++ctx.counts.sessions;
  std::optional<specweb_picker> picker;
  if (shared.specweb) picker.emplace(*shared.specweb, mix64(cfg.seed) + number);
  const unsigned calls = std::max(cfg.calls, 1u);
  client_connection conn;

  auto opened = co_await with_timeout(shared.timeout, conn.open(shared.target, ctx.source()));
  if (!opened) {
    ctx.count_error(opened.error(), error_phase::connect);
    conn.abort();
    co_return;
  }
  std::string request;
  for (unsigned call = 0; call < calls; ++call) {
    const bool last = call + 1 == calls;
    // The first request's latency includes the connect: that is what a new visitor waits.
    clock::time_point sent = started;
    if (call > 0) sent = clock::now();
    request.clear();
    if (picker) shared.append_request(request, picker->next(cfg.prefix), last);
    else request = last ? shared.plain_request_close : shared.plain_request;
    if (ctx.in_window(clock::now())) ++ctx.counts.requests;

    auto w = co_await with_timeout(shared.timeout, conn.send(request));
    if (!w) {
      ctx.count_error(w.error(), error_phase::exchange);
      conn.abort();
      co_return;
    }
    auto r = co_await with_timeout(shared.timeout, conn.read_reply());
    const auto now = clock::now();
    const std::uint64_t bytes = conn.take_bytes();
    if (ctx.in_window(now)) ctx.counts.bytes += bytes;
    if (!r) {
      ctx.count_error(r.error(), error_phase::exchange);
      conn.abort();
      co_return;
    }
    ctx.count_reply(r->status, sent, now);
    if (!r->keep_alive) break;  // the server ends the session early (its limit): nothing lost
  }
  auto closed = co_await with_timeout(shared.timeout, conn.wait_close());
  if (!closed) {
    // A server that never closes after Connection: close: give up without a TIME_WAIT here.
    // Not an error of the replies, which all arrived.
    conn.abort();
    co_return;
  }
  conn.close();
}

task<> open_session(loop_context& ctx, std::uint64_t number) {
  worker_token token(ctx);
  co_await in_scope(token.scope(), session_body(ctx, number));
}

// Starts this loop's sessions: loop i of n starts sessions i, i+n, i+2n, ... of one schedule
// at 1/rate spacing, so together the loops keep the uniform spacing.
task<> generator_body(loop_context& ctx) {
  const run_shared& shared = ctx.shared;
  const double rate = ctx.cfg().rate;
  std::uint64_t behind = 0;
  for (std::uint64_t k = ctx.index;; k += ctx.loops) {
    const auto at = shared.start + std::chrono::duration_cast<clock::duration>(
                                       std::chrono::duration<double>(static_cast<double>(k) / rate));
    if (at >= shared.window_until || ctx.stopping) break;
    if (at > clock::now()) {
      if (auto slept = co_await sleep_until(at); !slept) break;  // cancelled: the run stops
    } else if (++behind % 64 == 0) {
      co_await yield{};  // catching up: start the late sessions, but let I/O in between
    }
    ctx.workers.add();
    ctx.loop->spawn(open_session(ctx, k));
  }
}

}  // namespace

task<> open_generator(loop_context& ctx) {
  worker_token token(ctx);
  co_await in_scope(token.scope(), generator_body(ctx));
}

}  // namespace c10k::load
