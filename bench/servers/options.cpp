#include "options.hpp"

#include <sys/resource.h>

#include <CLI/CLI.hpp>

namespace c10k::baseline {

int parse_options(int argc, char** argv, server_kind kind, server_options& opt) {
  const bool reactor = kind == server_kind::reactor;
  CLI::App app{reactor ? "c10k-reactor: the benchmark's hand-written callback reactor (epoll or io_uring), no coroutines"
                       : "c10k-threads: the benchmark's thread-per-client server with blocking I/O"};
  app.add_option("--host", opt.host, "address to listen on")->capture_default_str();
  app.add_option("--port", opt.port, "TCP port (0 picks a free one)")->capture_default_str();
  app.add_option("--threads", opt.threads,
                 reactor ? "event loops, one thread and one SO_REUSEPORT listener each"
                         : "accept loops, one thread and one SO_REUSEPORT listener each")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--root", opt.root, "serve the files under this directory at /static/")->check(CLI::ExistingDirectory);
  app.add_option("--idle-timeout", opt.idle_timeout_s, "seconds a silent connection stays open (0: until the client closes)")
      ->capture_default_str();
  if (reactor) {
    app.add_option("--backend", opt.backend, "epoll (level-triggered readiness) or io_uring (completions)")
        ->check(CLI::IsMember({"epoll", "io_uring"}))
        ->capture_default_str();
  } else {
    app.add_option("--stack-kib", opt.stack_kib, "stack size of each connection's thread, in KiB")
        ->check(CLI::Range(16u, 65536u))
        ->capture_default_str();
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 2;
  }
  return -1;
}

std::uint64_t raise_fd_limit() {
  rlimit r{};
  if (::getrlimit(RLIMIT_NOFILE, &r) != 0) return 0;
  if (r.rlim_cur < r.rlim_max) {
    r.rlim_cur = r.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &r) != 0) (void)::getrlimit(RLIMIT_NOFILE, &r);
  }
  return r.rlim_cur;
}

}  // namespace c10k::baseline
