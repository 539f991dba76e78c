// c10k-echo: a TCP echo server, one straight-line coroutine per client.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <array>

#include "c10k/runtime.hpp"
#include "c10k/tcp_listener.hpp"

using namespace c10k;

// The whole per-client logic: read, write back, until the client closes.
task<void> echo(tcp_stream s) {
  std::array<char, 4096> buf;
  for (;;) {
    auto n = co_await s.read(buf);
    if (!n || *n == 0) co_return;
    if (!co_await s.write_all({buf.data(), *n})) co_return;
  }
}

task<void> serve(tcp_listener listener) {
  for (;;) {
    auto s = co_await listener.accept();
    if (s) event_loop::current()->spawn(echo(std::move(*s)));
    else if (s.error() == std::errc::operation_canceled) co_return;
  }
}

int main(int argc, char** argv) {
  std::uint16_t port = 7777;
  runtime_options opt;
  CLI::App app{"c10k echo server"};
  app.add_option("--port", port, "TCP port")->capture_default_str();
  app.add_option("--threads", opt.threads, "event loops (0: one per CPU)")->capture_default_str();
  app.add_option("--backend", opt.backend, "event mechanism")->capture_default_str();
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
  try {
    rt.start([&](event_loop& loop, unsigned) {
      auto l = tcp_listener::bind(*at, {}, loop);
      if (!l) throw std::system_error(l.error(), fmt::format("cannot listen on port {}", port));
      loop.spawn(serve(std::move(*l)));
    });
  } catch (const std::system_error& e) {
    fmt::print(stderr, "c10k-echo: {}\n", e.what());
    return 1;
  }
  fmt::print("c10k-echo: echoing on port {} with {} thread(s)\n", port, rt.size());
  std::fflush(stdout);
  rt.wait_for_signal();
  rt.stop();
  rt.join();
}
