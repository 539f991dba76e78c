// run_load: sets a run up, drives it on c10k::runtime's loops, and merges what they measured.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>

#include <fmt/format.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <vector>

#include "c10k/runtime.hpp"
#include "loop_context.hpp"

namespace c10k::load {

void run_shared::append_request(std::string& out, std::string_view path, bool close) const {
  out.append("GET ").append(path).append(" HTTP/1.1\r\nHost: ").append(cfg.host);
  out.append(":").append(std::to_string(cfg.port)).append("\r\n");
  if (close) out.append("Connection: close\r\n");
  out.append("\r\n");
}

namespace {

void check(const load_config& c) {
  if (c.mode != "closed" && c.mode != "open" && c.mode != "idle") throw std::invalid_argument("mode must be closed, open or idle");
  if (c.workload != "plain" && c.workload != "specweb") throw std::invalid_argument("workload must be plain or specweb");
  if (c.threads == 0) throw std::invalid_argument("threads must be at least 1");
  if (c.mode != "idle" && !(c.duration_s > 0)) throw std::invalid_argument("duration must be positive");
  if (c.duration_s < 0 || c.warmup_s < 0) throw std::invalid_argument("duration and warm-up cannot be negative");
  if (!(c.timeout_s > 0)) throw std::invalid_argument("timeout must be positive");
  if (c.mode == "open" && !(c.rate > 0)) throw std::invalid_argument("rate must be positive");
  if (c.mode != "open" && c.connections == 0) throw std::invalid_argument("connections must be at least 1");
  if (c.source_addrs > 254) throw std::invalid_argument("at most 254 source addresses");
  if (c.path.empty() || c.path.front() != '/') throw std::invalid_argument("path must start with /");
}

// 127.0.0.1 .. 127.0.0.n when the target is a loopback IPv4 address (any other target would
// be unreachable from them); none otherwise.
std::vector<address> source_addresses(const address& target, unsigned n) {
  std::vector<address> out;
  if (target.family() != AF_INET) return out;
  const auto* sin = reinterpret_cast<const sockaddr_in*>(target.data());
  if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127) return out;
  for (unsigned i = 1; i <= n; ++i) {
    auto a = address::parse(fmt::format("127.0.0.{}", i), 0);
    if (a) out.push_back(*a);
  }
  return out;
}

// The body of each loop: start the workers, wait for the end of the window (or a stop), stop
// the workers, wait for them, and stop the loop.
task<> drive(loop_context& ctx) {
  const load_config& cfg = ctx.cfg();
  run_shared& shared = ctx.shared;
  auto start_worker = [&ctx](task<> t) {
    ctx.workers.add();
    ctx.loop->spawn(std::move(t));
  };
  if (cfg.mode == "closed") {
    for (std::uint64_t i = 0; i < ctx.connections; ++i) start_worker(closed_connection(ctx, ctx.index + i * ctx.loops));
  } else if (cfg.mode == "open") {
    start_worker(open_generator(ctx));
  } else {
    for (std::uint64_t i = 0; i < ctx.connections; ++i) start_worker(idle_connection(ctx, ctx.index + i * ctx.loops));
    if (ctx.index == 0 && cfg.verbose) start_worker(idle_reporter(ctx));
  }

  if (shared.window_until != clock::time_point::max()) {
    auto ended = co_await with_timeout(shared.window_until - clock::now(), ctx.stop_requested.wait());
    (void)ended;
  } else {
    auto ended = co_await ctx.stop_requested.wait();
    (void)ended;
  }
  // Open sessions already started get their chance to finish (each wait of theirs is bounded
  // by the timeout); a stop request ends them at once.
  if (cfg.mode == "open" && !ctx.stop_requested.is_set()) {
    auto drained = co_await with_timeout(shared.timeout + std::chrono::seconds(1), ctx.workers.wait());
    (void)drained;
  }
  ctx.stopping = true;
  ctx.active.cancel_all();
  auto all_ended = co_await ctx.workers.wait();
  (void)all_ended;
  ctx.loop->stop();
}

}  // namespace

load_result run_load(const load_config& config) {
  check(config);
  auto target = address::parse(config.host, config.port);
  if (!target) throw std::invalid_argument("host must be a numeric IPv4 or IPv6 address: " + config.host);

  run_shared shared;
  shared.cfg = config;
  shared.target = *target;
  shared.sources = source_addresses(*target, config.source_addrs);
  if (config.workload == "specweb") shared.specweb.emplace(config.seed, config.dirs);
  shared.append_request(shared.plain_request, config.path, false);
  shared.append_request(shared.plain_request_close, config.path, true);
  shared.timeout = std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(config.timeout_s));

  const unsigned loops = config.threads;
  std::vector<std::unique_ptr<loop_context>> contexts;
  for (unsigned i = 0; i < loops; ++i) {
    contexts.push_back(std::make_unique<loop_context>(shared, i, loops));
    contexts[i]->connections = config.connections / loops + (i < config.connections % loops ? 1 : 0);
  }

  shared.start = clock::now();
  shared.window_from = shared.start + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(config.warmup_s));
  shared.window_until = config.duration_s > 0
                            ? shared.window_from + std::chrono::duration_cast<clock::duration>(std::chrono::duration<double>(config.duration_s))
                            : clock::time_point::max();
  {
    // Declared after the contexts, so the loops (and the workers they own) end first.
    runtime rt(runtime_options{.threads = loops, .backend = config.backend, .pin_cpus = false});
    rt.start([&contexts](event_loop& loop, unsigned i) {
      contexts[i]->loop = &loop;
      loop.spawn(drive(*contexts[i]));
    });
    if (rt.wait_for_signal() != 0) {
      for (unsigned i = 0; i < loops; ++i) rt.post(i, [ctx = contexts[i].get()] { ctx->stop_requested.set(); });
    }
    rt.join();
  }
  const auto ended = clock::now();

  load_result r;
  r.mode = config.mode;
  const auto window_end = std::min(ended, shared.window_until);
  r.duration_s = std::max(0.0, std::chrono::duration<double>(window_end - shared.window_from).count());
  r.pipeline = config.mode == "closed" ? std::max(config.pipeline, 1u) : 1;
  r.offered_rate = config.mode == "open" ? config.rate * std::max(config.calls, 1u) : 0;
  r.connections = config.mode == "open" ? 0 : config.connections;
  for (const auto& c : contexts) {
    r.requests += c->counts.requests;
    r.replies += c->counts.replies;
    r.bytes_received += c->counts.bytes;
    r.reopened += c->counts.reopened;
    if (config.mode == "open") r.connections += c->counts.sessions;
    r.errors += c->counts.errors;
    r.latency_us.merge(c->latency);
  }
  r.reply_rate = r.duration_s > 0 ? static_cast<double>(r.replies) / r.duration_s : 0;
  return r;
}

std::uint64_t raise_fd_limit() noexcept {
  rlimit l{};
  if (::getrlimit(RLIMIT_NOFILE, &l) != 0) return 0;
  if (l.rlim_cur < l.rlim_max) {
    l.rlim_cur = l.rlim_max;
    (void)::setrlimit(RLIMIT_NOFILE, &l);
    (void)::getrlimit(RLIMIT_NOFILE, &l);
  }
  return l.rlim_cur;
}

}  // namespace c10k::load
