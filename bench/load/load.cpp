// c10k-load: the benchmark's load generator, a client built on the c10k runtime.
//
//   c10k-load closed --connections N --duration S [--warmup S] [--pipeline D]
//   c10k-load open   --rate R --duration S [--calls K] [--timeout S]
//   c10k-load idle   --connections N [--duration S] [--request] [--ready-file F]
//
// Every mode takes --host, --port, --path or --workload specweb (--seed, --dirs, --prefix),
// --threads, --backend and --json FILE. See load.hpp for what each mode does.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cstdio>
#include <exception>
#include <fstream>

#include "c10k/backend.hpp"
#include "load.hpp"

using namespace c10k::load;

namespace {

// The options every mode shares.
void add_common(CLI::App& cmd, load_config& c, std::string& json_file) {
  cmd.add_option("--host", c.host, "server address (numeric)")->capture_default_str();
  cmd.add_option("--port", c.port, "server port")->capture_default_str();
  cmd.add_option("--path", c.path, "the URL path to request (plain workload)")->capture_default_str();
  cmd.add_option("--workload", c.workload, "plain (--path) or specweb (a SPECweb99-like file mix)")
      ->check(CLI::IsMember({"plain", "specweb"}))
      ->capture_default_str();
  cmd.add_option("--seed", c.seed, "specweb: the file set's seed (as given to c10k-fileset)")->capture_default_str();
  cmd.add_option("--dirs", c.dirs, "specweb: the file set's directories")->capture_default_str();
  cmd.add_option("--prefix", c.prefix, "specweb: the URL prefix of the file set")->capture_default_str();
  cmd.add_option("--threads", c.threads, "event loops, one thread each, sharing the load")->capture_default_str();
  cmd.add_option("--backend", c.backend, "event mechanism: auto, io_uring, epoll, epoll-et, poll, select")
      ->check(CLI::IsMember({"auto", "io_uring", "epoll", "epoll-et", "poll", "select"}))
      ->capture_default_str();
  cmd.add_option("--timeout", c.timeout_s, "seconds to wait for a connect or a reply")->capture_default_str();
  cmd.add_option("--source-addrs", c.source_addrs, "bind to 127.0.0.1 .. 127.0.0.N (loopback targets; 0: no bind)")
      ->capture_default_str();
  cmd.add_option("--json", json_file, "write the result to this file as JSON");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"c10k-load: HTTP load generator on the c10k runtime (closed, open and idle modes)"};
  app.require_subcommand(1);
  load_config closed_cfg, open_cfg, idle_cfg;
  closed_cfg.mode = "closed";
  open_cfg.mode = "open";
  idle_cfg.mode = "idle";
  idle_cfg.duration_s = 0;
  std::string closed_json, open_json, idle_json;

  CLI::App* closed = app.add_subcommand("closed", "N keep-alive connections, each keeping D requests in flight (like wrk)");
  add_common(*closed, closed_cfg, closed_json);
  closed->add_option("--connections", closed_cfg.connections, "connections")->capture_default_str();
  closed->add_option("--duration", closed_cfg.duration_s, "seconds measured")->capture_default_str();
  closed->add_option("--warmup", closed_cfg.warmup_s, "seconds of load before the measurement")->capture_default_str();
  closed->add_option("--pipeline", closed_cfg.pipeline, "requests in flight per connection")->capture_default_str();
  closed->add_option("--max-connecting", closed_cfg.max_connecting, "connects in flight at once")->capture_default_str();

  CLI::App* open = app.add_subcommand("open", "a new session every 1/rate seconds, --calls requests each (like httperf --rate)");
  add_common(*open, open_cfg, open_json);
  open->add_option("--rate", open_cfg.rate, "sessions started per second")->capture_default_str();
  open->add_option("--duration", open_cfg.duration_s, "seconds measured")->capture_default_str();
  open->add_option("--warmup", open_cfg.warmup_s, "seconds of load before the measurement")->capture_default_str();
  open->add_option("--calls", open_cfg.calls, "requests per session (the last says Connection: close)")->capture_default_str();

  CLI::App* idle = app.add_subcommand("idle", "hold N idle connections open, reopening those the server closes");
  add_common(*idle, idle_cfg, idle_json);
  idle->add_option("--connections", idle_cfg.connections, "connections")->capture_default_str();
  idle->add_option("--duration", idle_cfg.duration_s, "seconds to hold them (0: until SIGINT/SIGTERM)")->capture_default_str();
  idle->add_flag("--request", idle_cfg.request, "send one GET on each connection before it goes idle");
  idle->add_option("--ready-file", idle_cfg.ready_file, "create this (empty) file once all connections are open");
  idle->add_option("--max-connecting", idle_cfg.max_connecting, "connects in flight at once")->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }

  load_config* cfg = &closed_cfg;
  std::string* json_file = &closed_json;
  if (open->parsed()) cfg = &open_cfg, json_file = &open_json;
  if (idle->parsed()) cfg = &idle_cfg, json_file = &idle_json;

  const std::uint64_t fds = raise_fd_limit();
  if (cfg->mode == "idle" && cfg->connections + 64 > fds)
    fmt::print(stderr, "c10k-load: warning: {} connections but only {} file descriptors\n", cfg->connections, fds);

  load_result r;
  try {
    r = run_load(*cfg);
  } catch (const std::exception& e) {
    fmt::print(stderr, "c10k-load: {}\n", e.what());
    return 2;
  }
  fmt::print("{}", summary(r));
  if (!json_file->empty()) {
    std::ofstream out(*json_file);
    out << to_json(r);
    if (!out) {
      fmt::print(stderr, "c10k-load: cannot write {}\n", *json_file);
      return 1;
    }
  }
  return 0;
}
