// c10k-reactor: the benchmark's hand-written callback reactor.
//
// One nonblocking loop per thread (--threads), each with its own SO_REUSEPORT listener, so the
// kernel spreads connections over the loops and the loops share nothing but the /stats sums.
// --backend epoll: level-triggered readiness; --backend io_uring: completions. No coroutines and
// no c10k runtime: only c10k's HTTP parser and response-head writer, shared with c10k-server so
// that the two differ in how they do I/O and in nothing else.
#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <latch>
#include <memory>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "listener.hpp"
#include "options.hpp"
#include "reactor.hpp"
#include "stop_signal.hpp"

using namespace c10k::baseline;

int main(int argc, char** argv) {
  server_options opt;
  if (int status = parse_options(argc, argv, server_kind::reactor, opt); status >= 0) return status;
  raise_fd_limit();
  block_stop_signals();  // before any thread starts, so that every thread inherits the mask

  site serves;
  serves.backend = opt.backend;
  if (!opt.root.empty()) {
    serves.root_fd = ::open(opt.root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (serves.root_fd < 0) {
      fmt::print(stderr, "c10k-reactor: cannot open {}: {}\n", opt.root, std::strerror(errno));
      return 1;
    }
  }
  const unsigned n = opt.threads;
  std::unique_ptr<loop_counters[]> counters(new loop_counters[n]);
  serves.stats = [&counters, n] {
    stats_snapshot s;
    for (unsigned i = 0; i < n; ++i) {
      s.connections += counters[i].connections.get();
      s.requests += counters[i].requests.get();
      s.syscalls += counters[i].syscalls.get();
    }
    return s;
  };

  // The first listener settles the port (which --port 0 leaves to the kernel); the others join it.
  std::vector<int> listeners, wakers;
  std::uint16_t port = opt.port;
  for (unsigned i = 0; i < n; ++i) {
    const int fd = open_listener(opt.host, port, /*nonblocking=*/true);
    if (fd < 0) {
      fmt::print(stderr, "c10k-reactor: cannot listen on {}:{}: {}\n", opt.host, port, std::strerror(-fd));
      return 1;
    }
    if (i == 0) port = bound_port(fd);
    listeners.push_back(fd);
    // Blocking: io_uring reads it with a plain read request, which an O_NONBLOCK fd would fail with EAGAIN.
    wakers.push_back(::eventfd(0, EFD_CLOEXEC));
  }

  std::vector<int> init_status(n, 0);
  std::vector<const char*> described(n, "");
  std::latch started(n);
  std::vector<std::thread> loops;
  for (unsigned i = 0; i < n; ++i) {
    loops.emplace_back([&, i] {
      loop_setup setup{listeners[i], wakers[i], &serves, &counters[i], opt.idle_timeout_s};
      std::unique_ptr<reactor> r = opt.backend == "io_uring" ? make_uring_reactor(setup) : make_epoll_reactor(setup);
      init_status[i] = r->init();
      described[i] = r->describe();
      started.count_down();
      if (init_status[i] == 0) r->run();
    });
  }
  started.wait();

  auto stop_loops = [&] {
    const std::uint64_t one = 1;
    for (int w : wakers) (void)!::write(w, &one, sizeof one);
    for (std::thread& t : loops) t.join();
  };
  for (int status : init_status) {
    if (status < 0) {
      fmt::print(stderr, "c10k-reactor: cannot set up {}: {}\n", opt.backend, std::strerror(-status));
      stop_loops();
      return 1;
    }
  }
  fmt::print("c10k-reactor: serving http://{}:{}/ on {} with {} thread{}{}\n", opt.host, port, described[0], n,
             n == 1 ? "" : "s", opt.root.empty() ? "" : ", files from " + opt.root + " at /static/");
  std::fflush(stdout);

  wait_for_stop_signal();
  stop_loops();
  for (int fd : listeners) ::close(fd);
  for (int fd : wakers) ::close(fd);
  if (serves.root_fd >= 0) ::close(serves.root_fd);
  fmt::print("c10k-reactor: stopped\n");
  return 0;
}
