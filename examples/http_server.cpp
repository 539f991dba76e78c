// c10k-server: the sample HTTP server.
//
//   /          a short text
//   /plain     a one-byte body (the paper's one-byte workload)
//   /json      a small JSON object
//   POST /echo the request body back
//   /delay/ms  an answer after ms milliseconds (at most 60,000): a long poll, a timer, no thread
//   /static/…  files under --root, when given
//   /stats     the server's counters
//   /metrics   the server's metrics for Prometheus
//   /debug/tasks  what every connection and fiber waits on (with --debug-endpoints)
//
// SIGUSR1 writes the same dump to stderr while the server keeps serving; a loop that stays
// away from its poll for --stall-threshold-ms is logged (the stall watchdog).
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <signal.h>
#include <sys/resource.h>

#include <charconv>
#include <cstdio>
#include <string>

#include "c10k/backend.hpp"
#include "c10k/http/metrics.hpp"
#include "c10k/http/server.hpp"
#include "c10k/log.hpp"
#include "c10k/http/static_files.hpp"
#include "c10k/offload.hpp"
#include "c10k/runtime.hpp"
#include "c10k/time.hpp"

using namespace c10k;

namespace {

// A C10K server takes what the fd limit allows: the soft RLIMIT_NOFILE (often 1,024) goes up
// to the hard one. Returns the soft limit in force.
rlim_t raise_fd_limit() {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rlimit raised = rl;
    raised.rlim_cur = rl.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return rl.rlim_cur;
}

// "http://host:port/", with an IPv6 address in brackets as a URL needs it.
std::string url_of(const std::string& host, std::uint16_t port) {
  const bool v6 = host.find(':') != std::string::npos;
  return fmt::format("http://{}{}{}:{}/", v6 ? "[" : "", host, v6 ? "]" : "", port);
}

// GET /delay/{ms}: answers after ms milliseconds on a timer of the loop, no thread held (the
// long poll a C10K server is for). 400 for anything but a number of at most 60,000.
task<http::response> delayed(http::request& q) {
  constexpr unsigned max_ms = 60'000;
  const std::string_view text = q.param("ms");
  unsigned ms = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ms);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size() || ms > max_ms)
    co_return http::response::text(400, fmt::format("delay: a whole number of milliseconds, at most {}\n", max_ms));
  co_await sleep_for(std::chrono::milliseconds(ms));
  co_return http::response::text(200, fmt::format("delayed {} ms\n", ms));
}

}  // namespace

int main(int argc, char** argv) {
  http::server_options opt;
  std::string root;
  std::vector<std::string> backends = available_backends();
  std::string backend_list;
  for (const auto& b : backends) backend_list += (backend_list.empty() ? "" : ", ") + b;

  CLI::App app{"c10k sample HTTP server: /, /plain, /json, POST /echo, /delay/{ms}, /stats, and /static/ from --root"};
  app.add_option("--host", opt.host, "address to listen on")->capture_default_str();
  app.add_option("--port", opt.port, "TCP port (0 picks a free one)")->capture_default_str();
  app.add_option("--threads", opt.threads, "event loops, one thread each (0: one per CPU)")->capture_default_str();
  const std::vector<std::string> accepted = {"auto", "io_uring", "epoll", "epoll-et", "poll", "select"};
  app.add_option("--backend", opt.backend, "event mechanism: auto (io_uring where it works, else epoll), io_uring, epoll, epoll-et, poll, select; this machine has: " + backend_list)
      ->check(CLI::IsMember(accepted))
      ->capture_default_str();
  app.add_option("--accept-limit", opt.accept_limit, "connections accepted per readiness event (0: unlimited)")
      ->capture_default_str();
  app.add_option("--root", root, "serve the files under this directory at /static/")->check(CLI::ExistingDirectory);
  app.add_flag("--pin", opt.pin_cpus, "pin loop i to CPU i");
  app.add_option("--max-connections", opt.max_connections,
                 "connections open at once; more are closed at accept (0: what the fd limit allows, less 5%)")
      ->capture_default_str();
  app.add_option("--max-requests", opt.max_requests_per_connection,
                 "requests per connection before it closes (0: no limit)")
      ->capture_default_str();
  // Timeouts in whole seconds, as nginx takes them (its client_header_timeout, ...).
  unsigned keepalive_s = 60, header_s = 10, body_s = 10, send_s = 10;
  app.add_option("--keepalive-timeout", keepalive_s, "seconds an idle keep-alive connection stays open")->capture_default_str();
  app.add_option("--header-timeout", header_s, "seconds for a whole request head, from its first byte (408)")
      ->capture_default_str();
  app.add_option("--body-timeout", body_s, "seconds of silence while a request body arrives (408)")->capture_default_str();
  app.add_option("--send-timeout", send_s, "seconds a write to a client may make no progress")->capture_default_str();
  std::string mode = "coroutine";
  app.add_option("--mode", mode, "how connections run: coroutine, or fiber (each connection on a fiber, blocking-style handlers)")
      ->check(CLI::IsMember({"coroutine", "fiber"}))
      ->capture_default_str();
  bool no_metrics = false;
  app.add_flag("--no-metrics", no_metrics, "leave the request counters off (/metrics then shows the loops' gauges only)");
  app.add_option("--access-log", opt.access_log, "log each request to this file (-: standard output); SIGHUP reopens it");
  app.add_flag("--access-log-json", opt.access_log_json, "access log as JSON lines instead of nginx's combined format");
  bool debug_endpoints = false;
  app.add_flag("--debug-endpoints", debug_endpoints, "serve /debug/tasks: what every connection and fiber waits on");
  std::string tls_cert, tls_key;
  app.add_option("--tls-cert", tls_cert, "PEM certificate (leaf, then its chain): serve HTTPS")->check(CLI::ExistingFile);
  app.add_option("--tls-key", tls_key, "PEM private key of --tls-cert")->check(CLI::ExistingFile);
  std::uint16_t tls_port = 0;
  auto* tls_port_opt = app.add_option("--tls-port", tls_port,
                                      "serve HTTPS on this port and plain HTTP on --port (without it, --port speaks HTTPS)");
  std::string log_level_name = "info";
  app.add_option("--log-level", log_level_name, "least level logged: debug (one line per failed TLS handshake, ...), info, warning, error")
      ->check(CLI::IsMember({"debug", "info", "warning", "error"}))
      ->capture_default_str();
  unsigned stall_ms = 100;
  app.add_option("--stall-threshold-ms", stall_ms, "log a loop that stays away from its poll this long (0: no watchdog)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  opt.keepalive_timeout = std::chrono::seconds(keepalive_s);
  opt.header_timeout = std::chrono::seconds(header_s);
  opt.body_timeout = std::chrono::seconds(body_s);
  opt.send_timeout = std::chrono::seconds(send_s);
  opt.fiber_connections = mode == "fiber";
  opt.metrics = !no_metrics;
  opt.stall_threshold = std::chrono::milliseconds(stall_ms);
  set_log_level(log_level_name == "debug"     ? log_level::debug
                : log_level_name == "warning" ? log_level::warning
                : log_level_name == "error"   ? log_level::error
                                              : log_level::info);
  if (tls_cert.empty() != tls_key.empty()) {
    fmt::print(stderr, "c10k-server: --tls-cert and --tls-key go together\n");
    return 2;
  }
  if (!tls_cert.empty()) opt.tls.certificates.push_back({tls_cert, tls_key});
  if (*tls_port_opt) opt.tls_port = tls_port;

  // The routes as plain functions: coroutine mode calls each in place (never_blocks), fiber mode
  // runs each on its connection's fiber (where it could block, fiber::await-ing).
  auto hello = [](http::request&) { return http::response::text(200, "Hello from c10k\n"); };
  auto plain = [](http::request&) { return http::response::text(200, "x"); };
  auto json = [](http::request&) { return http::response::json(200, R"({"message":"Hello, World!"})"); };
  auto echo = [](http::request& q) {
    http::response r(200);
    r.set_header("Content-Type", std::string(q.header("Content-Type").value_or("application/octet-stream")));
    r.set_body(std::string(q.body()));
    return r;
  };
  http::router routes;
  auto add = [&](std::string_view method, std::string_view path, http::blocking_handler h) {
    // Fiber mode runs each on its connection's fiber; coroutine mode calls each in place on
    // the loop (they never block).
    routes.add(method, path, std::move(h), {.never_blocks = mode != "fiber"});
  };
  add("GET", "/", hello);
  add("GET", "/plain", plain);
  add("GET", "/json", json);
  add("POST", "/echo", echo);
  routes.get("/delay/{ms}", delayed);  // a coroutine in both modes: a fiber would only wait too
  if (!root.empty()) routes.get("/static/{path...}", http::static_files(root));
  // The counters a benchmark reads before and after a run (system calls per request, ...).
  http::server* running = nullptr;
  routes.get("/stats", [&running](http::request&) -> task<http::response> {
    const http::server_stats s = running->stats();
    co_return http::response::json(
        200, fmt::format(R"({{"backend":"{}","connections":{},"requests":{},"operations":{},"syscalls":{},"events":{},"buffers_in_use":{}}})",
                         running->backend_name(), s.connections, s.requests, s.operations, s.syscalls, s.events,
                         s.buffers_in_use) + "\n");
  });

  routes.get("/metrics", [&running](http::request&) -> task<http::response> { co_return http::metrics_response(*running); });

  if (debug_endpoints) {
    // The dump waits for every loop, this one included: on a helper thread, never on the loop.
    routes.get("/debug/tasks", [&running](http::request&) -> task<http::response> {
      auto text = co_await offload([](const http::server* s) { return s->dump_tasks(); }, running);
      if (!text) co_return http::response::text(503, "task dump: " + text.error().message() + "\n");
      co_return http::response::text(200, std::move(*text));
    });
  }

  raise_fd_limit();
  // SIGHUP and SIGUSR1 stay pending, blocked, until run() takes them: one that came between
  // "serving" and run() (logrotate, an operator asking for a dump) would end the process, their
  // default action. The loop and helper threads started from here inherit the mask.
  sigset_t service;
  sigemptyset(&service);
  sigaddset(&service, SIGHUP);
  sigaddset(&service, SIGUSR1);
  ::pthread_sigmask(SIG_BLOCK, &service, nullptr);
  http::server srv(std::move(routes), opt);
  running = &srv;
  if (auto r = srv.start(); !r) {
    fmt::print(stderr, "c10k-server: cannot start on {}: {}\n", url_of(opt.host, opt.port), r.error().message());
    return 1;
  }
  const unsigned threads = opt.threads ? opt.threads : available_cpus();
  std::string where = srv.tls_port() == srv.port() ? "https" + url_of(opt.host, srv.port()).substr(4) : url_of(opt.host, srv.port());
  if (srv.tls_port() && srv.tls_port() != srv.port()) where += " and https" + url_of(opt.host, srv.tls_port()).substr(4);
  fmt::print("c10k-server: serving {} on {} with {} thread{}, {} handlers, up to {} connections{}\n",
             where, srv.backend_name(), threads, threads == 1 ? "" : "s", mode,
             srv.max_connections(), root.empty() ? "" : ", files from " + root + " at /static/");
  std::fflush(stdout);
  auto r = srv.run();  // returns after SIGINT/SIGTERM and a graceful stop
  fmt::print("c10k-server: stopped\n");
  return r ? 0 : 1;
}
