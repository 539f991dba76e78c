// idle: connections held open and silent, reopened when the server closes them.
#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdio>

#include "client_connection.hpp"
#include "loop_context.hpp"

namespace c10k::load {

namespace {

std::uint64_t total_connections(const run_shared& shared) { return shared.cfg.connections; }

// Prints the "all open" line and creates the ready file, once per run (whichever loop's
// connection completes the set).
void announce_open(run_shared& shared) {
  if (shared.idle_announced.exchange(true)) return;
  if (shared.cfg.verbose) {
    fmt::print("idle: {} open\n", total_connections(shared));
    std::fflush(stdout);
  }
  if (!shared.cfg.ready_file.empty()) {
    const int fd = ::open(shared.cfg.ready_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) ::close(fd);
    else fmt::print(stderr, "c10k-load: cannot create {}\n", shared.cfg.ready_file);
  }
}

task<> idle_body(loop_context& ctx, std::uint64_t number) {
  const load_config& cfg = ctx.cfg();
  run_shared& shared = ctx.shared;
  client_connection conn;
  bool was_open = false;
  std::string request;
  if (cfg.request) {
    if (shared.specweb) shared.append_request(request, specweb_picker(*shared.specweb, mix64(cfg.seed) + number).next(cfg.prefix), false);
    else request = shared.plain_request;
  }

  while (!ctx.stopping) {
    if (auto permit = co_await ctx.connect_slots.acquire(); !permit) break;
    auto opened = co_await with_timeout(shared.timeout, conn.open(shared.target, ctx.source()));
    error_phase phase = error_phase::connect;
    std::error_code failure = opened.error();
    if (opened && cfg.request) {
      // One request, so the server counts this connection as a keep-alive one.
      phase = error_phase::exchange;
      const auto sent = clock::now();
      if (ctx.in_window(sent)) ++ctx.counts.requests;
      auto w = co_await with_timeout(shared.timeout, conn.send(request));
      failure = w.error();
      if (w) {
        auto r = co_await with_timeout(shared.timeout, conn.read_reply());
        const auto now = clock::now();
        const std::uint64_t bytes = conn.take_bytes();
        if (ctx.in_window(now)) ctx.counts.bytes += bytes;
        failure = r.error();
        if (r) {
          ctx.count_reply(r->status, sent, now);
          // A server that will not keep the connection is not one to hold idle: try again later.
          if (!r->keep_alive) failure = std::make_error_code(std::errc::connection_reset);
        }
      }
    }
    ctx.connect_slots.release();
    if (failure) {
      if (!ctx.stopping) ++shared.idle_errors;
      ctx.count_error(failure, phase);
      conn.abort();
      // Back off before trying again: a server at its limit must not be hammered.
      auto slept = co_await sleep_for(std::chrono::seconds(1));
      (void)slept;
      continue;
    }
    if (was_open) {
      ++ctx.counts.reopened;
      ++shared.idle_reopened;
    }
    was_open = true;
    if (++shared.idle_open == total_connections(shared)) announce_open(shared);

    // Idle until the server closes (or the run stops, which cancels the wait).
    const auto opened_at = clock::now();
    auto closed = co_await conn.wait_close();
    (void)closed;
    --shared.idle_open;
    if (ctx.stopping) break;
    conn.close();
    if (clock::now() - opened_at < std::chrono::seconds(1)) {
      // Closed at once (a server at its connection limit): reopening at once would churn.
      auto slept = co_await sleep_for(std::chrono::seconds(1));
      (void)slept;
    }
  }
  conn.abort();
}

task<> reporter_body(loop_context& ctx) {
  run_shared& shared = ctx.shared;
  for (;;) {
    if (auto slept = co_await sleep_for(std::chrono::seconds(2)); !slept) break;
    if (ctx.stopping) break;
    fmt::print("idle: {} open, {} reopened, {} errors\n", shared.idle_open.load(), shared.idle_reopened.load(),
               shared.idle_errors.load());
    std::fflush(stdout);
  }
}

}  // namespace

task<> idle_connection(loop_context& ctx, std::uint64_t number) {
  worker_token token(ctx);
  co_await in_scope(token.scope(), idle_body(ctx, number));
}

task<> idle_reporter(loop_context& ctx) {
  worker_token token(ctx);
  co_await in_scope(token.scope(), reporter_body(ctx));
}

}  // namespace c10k::load
