// c10k-server: the sample HTTP server.
//
//   /          a short text
//   /plain     a one-byte body (the paper's one-byte workload)
//   /json      a small JSON object
//   POST /echo the request body back
//   /static/…  files under --root, when given
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "c10k/backend.hpp"
#include "c10k/http/server.hpp"
#include "c10k/http/static_files.hpp"
#include "c10k/runtime.hpp"

using namespace c10k;

int main(int argc, char** argv) {
  http::server_options opt;
  std::string root;
  std::vector<std::string> backends = available_backends();
  std::string backend_list;
  for (const auto& b : backends) backend_list += (backend_list.empty() ? "" : ", ") + b;

  CLI::App app{"c10k sample HTTP server: /, /plain, /json, POST /echo, and /static/ from --root"};
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
  app.add_option("--max-connections", opt.max_connections, "connections open at once; more are closed at accept")
      ->capture_default_str();
  app.add_option("--max-requests", opt.max_requests_per_connection,
                 "requests per connection before it closes (0: no limit)")
      ->capture_default_str();
  unsigned keepalive_s = 60;
  app.add_option("--keepalive-timeout", keepalive_s, "seconds an idle keep-alive connection stays open")->capture_default_str();
  std::string mode = "coroutine";
  app.add_option("--mode", mode, "how connections run: coroutine, or fiber (each connection on a fiber, blocking-style handlers)")
      ->check(CLI::IsMember({"coroutine", "fiber"}))
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
  opt.fiber_connections = mode == "fiber";

  // The routes as plain functions; coroutine mode wraps each in a coroutine that returns at
  // once, fiber mode runs each on its connection's fiber (where it could block, fiber::await-ing).
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
    if (mode == "fiber") {
      routes.add(method, path, std::move(h));
    } else {
      routes.add(method, path, http::handler([h = std::move(h)](http::request& q) -> task<http::response> { co_return h(q); }));
    }
  };
  add("GET", "/", hello);
  add("GET", "/plain", plain);
  add("GET", "/json", json);
  add("POST", "/echo", echo);
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

  http::server srv(std::move(routes), opt);
  running = &srv;
  if (auto r = srv.start(); !r) {
    fmt::print(stderr, "c10k-server: cannot listen on {}:{}: {}\n", opt.host, opt.port, r.error().message());
    return 1;
  }
  const unsigned threads = opt.threads ? opt.threads : available_cpus();
  fmt::print("c10k-server: serving http://{}:{}/ on {} with {} thread{}, {} handlers{}\n", opt.host, srv.port(),
             srv.backend_name(), threads, threads == 1 ? "" : "s", mode,
             root.empty() ? "" : ", files from " + root + " at /static/");
  std::fflush(stdout);
  auto r = srv.run();  // returns after SIGINT/SIGTERM and a graceful stop
  fmt::print("c10k-server: stopped\n");
  return r ? 0 : 1;
}
