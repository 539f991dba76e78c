// c10k-fiber-echo: the TCP echo server written blocking-style, one fiber per client.
//
// No co_await anywhere: each client runs plain code on its own small stack, and every call that
// would block (accept, read, write) is fiber::await(...) on the same awaitable a coroutine
// would co_await. The fiber parks there; the loop serves other clients meanwhile.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <array>

#include "c10k/fiber.hpp"
#include "c10k/runtime.hpp"
#include "c10k/tcp_listener.hpp"

using namespace c10k;

// The whole per-client logic: read, write back, until the client closes. Ordinary code: it
// could call into a library that knows nothing about coroutines.
void echo(tcp_stream s) {
  std::array<char, 4096> buf;
  for (;;) {
    auto n = fiber::await(s.read(buf));
    if (!n || *n == 0) return;
    std::size_t sent = 0;
    while (sent < *n) {
      auto w = fiber::await(s.write(std::span<const char>(buf.data() + sent, *n - sent)));
      if (!w) return;
      sent += *w;
    }
  }
}

// The accept loop, itself a fiber; each client gets a fiber of its own.
void serve(tcp_listener& listener, const fiber_options& options) {
  event_loop& loop = *event_loop::current();
  for (;;) {
    auto s = fiber::await(listener.accept());
    if (s) (void)spawn_fiber(loop, [s = std::move(*s)]() mutable { echo(std::move(s)); }, options);
    else if (s.error() == std::errc::operation_canceled) return;
  }
}

int main(int argc, char** argv) {
  std::uint16_t port = 7778;
  std::size_t stack_kib = fiber_stack_pool::default_size / 1024;
  runtime_options opt;
  CLI::App app{"c10k echo server on fibers"};
  app.add_option("--port", port, "TCP port")->capture_default_str();
  app.add_option("--threads", opt.threads, "event loops (0: one per CPU)")->capture_default_str();
  app.add_option("--backend", opt.backend, "event mechanism")->capture_default_str();
  app.add_option("--stack-kib", stack_kib, "stack size of each client's fiber, in KiB")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  runtime rt(opt);
  const auto at = address::parse("0.0.0.0", port);
  const fiber_options options{.stack_size = stack_kib * 1024, .name = {}};
  try {
    rt.start([&](event_loop& loop, unsigned) {
      auto l = tcp_listener::bind(*at, {}, loop);
      if (!l) throw std::system_error(l.error(), fmt::format("cannot listen on port {}", port));
      (void)spawn_fiber(loop, [l = std::move(*l), &options]() mutable { serve(l, options); });
    });
  } catch (const std::system_error& e) {
    fmt::print(stderr, "c10k-fiber-echo: {}\n", e.what());
    return 1;
  }
  fmt::print("c10k-fiber-echo: echoing on port {} with {} thread(s), {} KiB fiber stacks\n", port, rt.size(), stack_kib);
  std::fflush(stdout);
  rt.wait_for_signal();
  rt.stop();
  rt.join();
}
