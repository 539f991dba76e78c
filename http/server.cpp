#include "c10k/http/server.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <future>
#include <stdexcept>

#include "c10k/fiber.hpp"
#include "c10k/log.hpp"
#include "c10k/runtime.hpp"
#include "c10k/time.hpp"
#include "loop_state.hpp"
#include "metrics_render.hpp"
#include "request_deadline.hpp"
#include "stall_watchdog.hpp"
#include "task_dump.hpp"

namespace c10k::http {

namespace {

bool is_fd_exhaustion(std::error_code ec) {
  return ec == std::errc::too_many_files_open || ec == std::errc::too_many_files_open_in_system ||
         ec == std::errc::no_buffer_space || ec == std::errc::not_enough_memory;
}

// The cap when max_connections is 0: what the soft fd limit leaves after a reserve for files,
// listeners and the backends' own fds (5% of it, at least 64).
std::size_t cap_from_fd_limit() noexcept {
  rlimit rl{};
  if (::getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1'000'000;
  const rlim_t reserve = std::max<rlim_t>(64, rl.rlim_cur / 20);
  return rl.rlim_cur > reserve ? static_cast<std::size_t>(rl.rlim_cur - reserve) : 1;
}

// Runs `at_end(loop_state&)` when the frame of the task it is a parameter of goes: when the
// task ends, or at the latest when its loop is destroyed (the loop destroys its tasks first, on
// its own thread, while it is still whole). A parameter rather than a local, so that it goes
// with the frame even when the loop was stopped before the task ever ran.
template <void (*at_end)(loop_state&)>
struct at_frame_end {
  loop_state* st;
  explicit at_frame_end(loop_state& s) noexcept : st(&s) {}
  at_frame_end(at_frame_end&& o) noexcept : st(std::exchange(o.st, nullptr)) {}
  at_frame_end& operator=(at_frame_end&&) = delete;
  ~at_frame_end() {
    if (st) at_end(*st);
  }
};

void close_listener(loop_state& st) {
  st.listener.close();
  st.tls_listener.close();
}

// An accept loop closes the loop's listeners when it goes, so no listener outlives the loop it
// points to (a start() that failed on another loop destroys this one).
using listener_closer = at_frame_end<close_listener>;
// The idle reaper closes the loop's connections when it goes, which is when the loop is
// destroyed: an idle connection is owned by no task (it waits in a small object of its own),
// nor is a burst (its frame frees itself), so the loop's teardown of its tasks would not reach
// them.
using idle_closer = at_frame_end<close_connections>;

// Waits for ever: the task exists for its frame's end (see idle_closer).
task<void> idle_reaper(idle_closer) { co_await std::suspend_always{}; }

// Accepts connections and gives each its own coroutine (on a fiber of its own, with
// fiber_connections), until the listener closes. A connection takes its slot under
// max_connections here, before its coroutine is spawned, so a burst accepted in one go cannot
// overshoot the cap; over it, the connection is closed at once (cheaper than letting it queue),
// and the first refusal of an episode is logged. When the fd table is full, accepting pauses
// instead of spinning on a listener that stays readable.
task<void> accept_loop(loop_state& st, tcp_listener& listener, bool secure, listener_closer) {
  bool reported = false;
  while (!st.draining) {
    auto s = co_await listener.accept();
    if (s) {
      reported = false;
      if (st.metrics) ++st.metrics->accepted;
      if (!st.cap->reserve()) {
        if (st.metrics) ++st.metrics->closed[static_cast<std::size_t>(close_reason::limit)];
        if (!st.cap->reported.exchange(true, std::memory_order_relaxed))
          log(log_level::warning, "max_connections ({}) reached: closing new connections at accept until some end",
              st.cap->limit);
        continue;
      }
      (void)s->set_nodelay();
      if (secure) {
        const tls::context ctx = st.tls->current();
        start_connection(std::move(*s), st, &ctx);
      } else {
        start_connection(std::move(*s), st);
      }
      continue;
    }
    const std::error_code ec = s.error();
    if (st.draining || ec == std::errc::operation_canceled || ec == std::errc::bad_file_descriptor) break;
    if (is_fd_exhaustion(ec)) {
      if (!reported) log(log_level::warning, "accept: {}; pausing accepts for 100 ms", ec.message());
      reported = true;
      (void)co_await in_scope(st.accept_scope, sleep_for(std::chrono::milliseconds(100)));
    }
    // Anything else (ECONNABORTED, ...) concerns one connection only: go on.
  }
  --st.accepting;
  st.finish_drain_if_done();
}

// Gives requests in flight until the drain timeout, then ends the loop; what is still open is
// destroyed with the loop (sockets close).
task<void> drain_deadline(loop_state& st) {
  (void)co_await sleep_for(st.options->drain_timeout);
  log(log_level::warning, "graceful stop: {} connection(s) still open after {} ms; closing them",
      st.connection_count.load(), st.options->drain_timeout.count());
  st.end_loop();
}

// Hands the loop's access-log lines to the writer at least every access_log_flush, so that a
// quiet server's lines do not wait for a full buffer.
task<void> access_log_flusher(loop_state& st) {
  for (;;) {
    (void)co_await sleep_for(st.options->access_log_flush);
    st.access_log->flush();
  }
}

// Binds n listeners (SO_REUSEPORT) to host:port, before any thread starts, so that a port in
// use is reported to the caller; with port 0 the first bind picks the port the others share,
// stored in `bound`. Returns their fds, or the error.
result<std::vector<int>> bind_listeners(const std::string& host, std::uint16_t port, unsigned n, const listen_options& lo,
                                        std::uint16_t& bound) {
  auto at = address::parse(host, port);
  if (!at) return at.error();
  // SO_REUSEPORT would let this server share a port with another one that also set it; a
  // probe bind without it tells a port in use apart.
  if (port != 0) {
    auto probe = tcp_listener::bind_socket(*at, {.backlog = 1, .reuse_port = false});
    if (!probe) return probe.error();
    ::close(*probe);
  }
  std::vector<int> fds;
  for (unsigned i = 0; i < n; ++i) {
    auto fd = tcp_listener::bind_socket(*at, lo);
    if (!fd) {
      for (int f : fds) ::close(f);
      return fd.error();
    }
    fds.push_back(*fd);
    if (i == 0) {
      sockaddr_storage ss;
      socklen_t len = sizeof ss;
      ::getsockname(*fd, reinterpret_cast<sockaddr*>(&ss), &len);
      bound = address::from(reinterpret_cast<sockaddr*>(&ss), len).port();
      at = address::parse(host, bound);
    }
  }
  return fds;
}

void begin_drain(loop_state& st) {
  if (st.draining) return;
  st.draining = true;
  st.accept_scope.cancel();
  st.listener.close();
  st.tls_listener.close();
  for (connection_entry* c = st.connections; c; c = c->next)
    cancel_idle(*c);
  st.loop->spawn(drain_deadline(st));
  st.finish_drain_if_done();
}

}  // namespace

struct server::impl {
  std::unique_ptr<access_log_sink> access_log;  // outlives the loops' buffers, which flush into it
  router routes;
  connection_cap cap;
  std::unique_ptr<runtime> rt;
  std::vector<std::unique_ptr<loop_state>> loops;
  std::atomic<bool> stop_requested{false};
  std::unique_ptr<stall_watchdog> watchdog;  // while the loops serve, when stall_threshold > 0
  tls_source tls;                            // when TLS is on
};

server::server(router routes, server_options options) : impl_(std::make_unique<impl>()), options_(std::move(options)) {
  impl_->routes = std::move(routes);
  // Request deadlines wrap the handlers once here, so the connection's path is the same (and
  // costs the same) when they are off.
  if (wants_request_deadlines(options_))
    impl_->routes.wrap_handlers([this](handler h) { return with_request_deadline(std::move(h), options_); });
}

server::~server() {
  stop();
  wait();
}

result<void> server::start() {
  if (impl_->rt) return std::errc::operation_in_progress;
  auto at = address::parse(options_.host, options_.port);
  if (!at) return at.error();
  if (options_.backend != "auto" && options_.backend != "io_uring") {
    ready_queue probe;
    if (auto b = make_exact_backend(options_.backend, probe); !b) return b.error();
  }
  const unsigned n = options_.threads ? options_.threads : available_cpus();
  const listen_options lo{.backlog = options_.backlog, .reuse_port = true, .accept_limit = options_.accept_limit};

  const bool tls_on = !options_.tls.certificates.empty();
  if (tls_on) {
    auto ctx = tls::context::server(options_.tls);  // (reads the files: before any loop runs)
    if (!ctx) return ctx.error();
    impl_->tls.replace(std::move(*ctx));
  }
  auto fds = bind_listeners(options_.host, options_.port, n, lo, port_);
  if (!fds) return fds.error();
  std::vector<int> tls_fds;
  if (tls_on && options_.tls_port) {
    auto more = bind_listeners(options_.host, *options_.tls_port, n, lo, tls_port_);
    if (!more) {
      for (int fd : *fds) ::close(fd);
      return more.error();
    }
    tls_fds = std::move(*more);
  } else if (tls_on) {
    tls_port_ = port_;
  }
  auto close_all = [&fds, &tls_fds] {
    for (int fd : *fds) ::close(fd);
    for (int fd : tls_fds) ::close(fd);
  };

  if (!options_.access_log.empty() && !impl_->access_log) {
    auto sink = access_log_sink::open(options_.access_log);
    if (!sink) {
      close_all();
      return sink.error();
    }
    impl_->access_log = std::move(*sink);
  }
  impl_->cap.limit = options_.max_connections ? options_.max_connections : cap_from_fd_limit();
  impl_->cap.open = 0;
  impl_->cap.reported = false;
  for (unsigned i = 0; i < n; ++i) {
    auto st = std::make_unique<loop_state>();
    if (options_.metrics) st->metrics = std::make_unique<loop_metrics>();
    if (impl_->access_log) st->access_log = std::make_unique<access_log_buffer>(*impl_->access_log, options_.access_log_json);
    st->observing = st->metrics || st->access_log;
    if (options_.stall_threshold.count() > 0) st->probe = std::make_unique<stall_probe>();
    impl_->loops.push_back(std::move(st));
  }
  impl_->rt = std::make_unique<runtime>(runtime_options{.threads = n, .backend = options_.backend, .pin_cpus = options_.pin_cpus});
  try {
    impl_->rt->start([&](event_loop& loop, unsigned i) {
      loop_state& st = *impl_->loops[i];
      st.loop = &loop;
      st.routes = &impl_->routes;
      st.options = &options_;
      st.cap = &impl_->cap;
      auto l = tcp_listener::adopt(loop, std::exchange((*fds)[i], -1), lo);
      if (!l) throw std::system_error(l.error(), "listener");
      st.listener = std::move(*l);
      if (!tls_fds.empty()) {
        auto t = tcp_listener::adopt(loop, std::exchange(tls_fds[i], -1), lo);
        if (!t) throw std::system_error(t.error(), "TLS listener");
        st.tls_listener = std::move(*t);
      }
      if (tls_on) st.tls = &impl_->tls;
      st.accepting = tls_fds.empty() ? 1 : 2;
      st.live_counters = &loop.io().counters();
      st.live_activity = &loop.activity();
      if (st.access_log) loop.spawn(access_log_flusher(st));
      if (i == 0) backend_name_ = loop.io().name();
      loop.spawn(accept_loop(st, st.listener, tls_on && tls_fds.empty(), listener_closer(st)));
      if (!tls_fds.empty()) loop.spawn(accept_loop(st, st.tls_listener, true, listener_closer(st)));
      loop.spawn(idle_reaper(idle_closer(st)));
    });
  } catch (const std::system_error& e) {
    // Every loop is gone by now (runtime::start stopped and joined those that started, which
    // closed their listeners); the rest of the state goes with them, so that stats() reads no
    // dead loop and a later start() begins afresh.
    for (int fd : *fds)
      if (fd >= 0) ::close(fd);
    for (int fd : tls_fds)
      if (fd >= 0) ::close(fd);
    impl_->rt.reset();
    impl_->loops.clear();
    return e.code();
  }
  if (options_.stall_threshold.count() > 0) {
    std::vector<const loop_state*> watched;
    for (const auto& st : impl_->loops) watched.push_back(st.get());
    impl_->watchdog = std::make_unique<stall_watchdog>(std::move(watched), options_.stall_threshold);
  }
  return {};
}

void server::stop() {
  if (!impl_->rt || impl_->stop_requested.exchange(true)) return;
  // The watchdog reads the loops' published activity: it goes before any loop can end.
  impl_->watchdog.reset();
  for (unsigned i = 0; i < impl_->loops.size(); ++i) {
    loop_state* st = impl_->loops[i].get();
    impl_->rt->post(i, [st] { begin_drain(*st); });
  }
}

void server::wait() {
  if (impl_->rt) impl_->rt->join();
}

result<void> server::run() {
  if (!impl_->rt)
    if (auto r = start(); !r) return r;
  impl_->rt->wait_for_signal([this](int signo) {
    if (signo == SIGHUP) {
      reopen_access_log();
      if (!options_.tls.certificates.empty()) {
        if (auto r = reload_tls(); r) log(log_level::info, "TLS certificates reloaded");
        else log(log_level::error, "TLS certificates not reloaded ({}): the previous ones stay in use", r.error().message());
      }
    }
    if (signo == SIGUSR1) {
      const std::string dump = dump_tasks();
      for (std::size_t done = 0; done < dump.size();) {  // stderr, unbuffered, whole
        const ssize_t n = ::write(STDERR_FILENO, dump.data() + done, dump.size() - done);
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
      }
    }
  });
  stop();
  wait();
  return {};
}

server_stats server::stats() const noexcept {
  server_stats s;
  for (const auto& st : impl_->loops) {
    s.connections += st->connection_count.load(std::memory_order_relaxed);
    s.requests += st->requests;
    s.head_parses += st->head_parses;
    // A loop that ended copied its counters first; the pointer is cleared before that copy.
    const backend_counters* c = st->live_counters.load();
    const backend_counters& b = c ? *c : st->final_counters;
    s.operations += b.operations;
    s.syscalls += b.syscalls;
    s.events += b.events;
    s.buffers_in_use += b.buffers_in_use;
  }
  return s;
}

result<void> server::reload_tls() {
  if (options_.tls.certificates.empty()) return make_error_code(tls::errc::bad_configuration);
  const tls::context now = impl_->tls.current();
  auto fresh = now ? now.reload() : tls::context::server(options_.tls);
  if (!fresh) return fresh.error();
  impl_->tls.replace(std::move(*fresh));
  return {};
}

void server::reopen_access_log() noexcept {
  if (impl_->access_log) impl_->access_log->reopen();
}

void server::sync_access_log() {
  // The loops' own buffers first (each on its thread), then the writer.
  if (!impl_->access_log) return;
  if (impl_->rt) {
    std::vector<std::shared_ptr<std::promise<void>>> done;
    for (unsigned i = 0; i < impl_->loops.size(); ++i) {
      auto p = std::make_shared<std::promise<void>>();
      loop_state* st = impl_->loops[i].get();
      if (impl_->rt->post(i, [st, p] {
            st->access_log->flush();
            p->set_value();
          }))
        done.push_back(p);
    }
    for (auto& p : done) p->get_future().wait();
  }
  impl_->access_log->sync();
}

std::string server::dump_tasks(std::chrono::milliseconds timeout) const {
  std::string out = fmt::format("c10k task dump: {} loop(s)\n", impl_->loops.size());
  if (!impl_->rt) return out + "not running\n";
  // Each loop writes its part on its own thread; a part that comes too late is dropped (the
  // promise is shared, so the loop may still answer after this returns).
  std::vector<std::shared_ptr<std::promise<std::string>>> parts;
  for (unsigned i = 0; i < impl_->loops.size(); ++i) {
    auto p = std::make_shared<std::promise<std::string>>();
    const loop_state* st = impl_->loops[i].get();
    if (!impl_->rt->post(i, [st, i, p] { p->set_value(describe_loop(*st, i)); })) p.reset();
    parts.push_back(std::move(p));
  }
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (unsigned i = 0; i < parts.size(); ++i) {
    if (!parts[i]) {
      out += fmt::format("loop {}: ended\n", i);
      continue;
    }
    auto f = parts[i]->get_future();
    if (f.wait_until(until) == std::future_status::ready) out += f.get();
    else out += fmt::format("loop {}: no answer within {} ms (stalled?)\n", i, timeout.count());
  }
  return out;
}

std::string server::metrics_text() const {
  std::vector<const loop_state*> loops;
  for (const auto& st : impl_->loops) loops.push_back(st.get());
  return render_metrics(std::span<const loop_state* const>(loops));
}

std::size_t server::max_connections() const noexcept { return impl_->cap.limit; }

std::size_t server::connection_count() const noexcept {
  std::size_t n = 0;
  for (const auto& st : impl_->loops) n += st->connection_count.load(std::memory_order_relaxed);
  return n;
}

}  // namespace c10k::http
