// The Prometheus text format (0.0.4) of a server's loops. Every number is a relaxed load of a
// counter its loop alone writes; the request counters are summed over the loops, the loops'
// own gauges keep a loop label.
#include "c10k/http/metrics.hpp"

#include <iterator>

#include <fmt/format.h>

#include "c10k/offload.hpp"
#include "loop_state.hpp"
#include "metrics_render.hpp"

namespace c10k::http {

namespace {

class writer {
 public:
  explicit writer(std::string& out) : out_(out) {}
  // The HELP and TYPE lines of a family.
  void family(std::string_view name, std::string_view type, std::string_view help) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  }
  template <typename V>
  void sample(std::string_view name, std::string_view labels, V value) {
    if (labels.empty()) fmt::format_to(std::back_inserter(out_), "{} {}\n", name, value);
    else fmt::format_to(std::back_inserter(out_), "{}{{{}}} {}\n", name, labels, value);
  }

 private:
  std::string& out_;
};

// One sample per loop of what `get` reads from a loop's published activity (skipped for a
// loop that ended).
template <typename Get>
void per_loop_activity(writer& w, std::span<const loop_state* const> loops, std::string_view name, Get get) {
  for (std::size_t i = 0; i < loops.size(); ++i)
    if (const loop_activity* a = loops[i]->live_activity.load()) w.sample(name, fmt::format("loop=\"{}\"", i), get(*a));
}

void render_requests(writer& w, std::span<const loop_state* const> loops) {
  w.family("c10k_http_requests_total", "counter", "HTTP requests answered, by method and status class.");
  for (std::size_t m = 0; m < method_names.size(); ++m)
    for (std::size_t c = 0; c < 5; ++c) {
      std::uint64_t n = 0;
      for (const loop_state* st : loops) n += st->metrics->requests[m][c];
      w.sample("c10k_http_requests_total", fmt::format("method=\"{}\",code=\"{}xx\"", method_names[m], c + 1), n);
    }

  w.family("c10k_http_request_duration_seconds", "histogram",
           "Time from the loop turn a request head was parsed in to its answer being queued.");
  std::uint64_t cumulative = 0, sum_ns = 0;
  for (std::size_t b = 0; b <= duration_bounds.size(); ++b) {
    for (const loop_state* st : loops) cumulative += st->metrics->duration_buckets[b];
    const std::string le = b < duration_bounds.size() ? fmt::format("{}", duration_bounds[b]) : "+Inf";
    w.sample("c10k_http_request_duration_seconds_bucket", fmt::format("le=\"{}\"", le), cumulative);
  }
  for (const loop_state* st : loops) sum_ns += st->metrics->duration_sum_ns;
  w.sample("c10k_http_request_duration_seconds_sum", "", static_cast<double>(sum_ns) / 1e9);
  w.sample("c10k_http_request_duration_seconds_count", "", cumulative);

  auto total = [&](auto field) {
    std::uint64_t n = 0;
    for (const loop_state* st : loops) n += field(*st->metrics);
    return n;
  };
  w.family("c10k_http_connections_accepted_total", "counter", "Connections accepted (those closed at once at the limit included).");
  w.sample("c10k_http_connections_accepted_total", "", total([](const loop_metrics& m) -> std::uint64_t { return m.accepted; }));
  w.family("c10k_http_connections_closed_total", "counter", "Connections closed, by reason.");
  for (std::size_t r = 0; r < close_reason_names.size(); ++r)
    w.sample("c10k_http_connections_closed_total", fmt::format("reason=\"{}\"", close_reason_names[r]),
             total([r](const loop_metrics& m) -> std::uint64_t { return m.closed[r]; }));
  w.family("c10k_http_received_bytes_total", "counter", "Bytes received from clients.");
  w.sample("c10k_http_received_bytes_total", "", total([](const loop_metrics& m) -> std::uint64_t { return m.bytes_in; }));
  w.family("c10k_http_sent_bytes_total", "counter", "Bytes of responses (heads and bodies) queued to clients.");
  w.sample("c10k_http_sent_bytes_total", "", total([](const loop_metrics& m) -> std::uint64_t { return m.bytes_out; }));
}

void render_backend(writer& w, std::span<const loop_state* const> loops) {
  struct field {
    std::string_view name, type, help;
    const counter backend_counters::*member;
  };
  static constexpr field fields[] = {
      {"c10k_backend_syscalls_total", "counter", "System calls the loop's backend made.", &backend_counters::syscalls},
      {"c10k_backend_events_total", "counter", "Readiness or completion events the kernel returned.", &backend_counters::events},
      {"c10k_backend_operations_total", "counter", "Backend operations started.", &backend_counters::operations},
      {"c10k_backend_receive_buffers_lent", "gauge", "Receive buffers lent out now.", &backend_counters::buffers_in_use},
  };
  for (const field& f : fields) {
    w.family(f.name, f.type, f.help);
    for (std::size_t i = 0; i < loops.size(); ++i) {
      const backend_counters* c = loops[i]->live_counters.load();
      const backend_counters& b = c ? *c : loops[i]->final_counters;
      w.sample(f.name, fmt::format("loop=\"{}\"", i), static_cast<std::uint64_t>(b.*f.member));
    }
  }
}

}  // namespace

std::string render_metrics(std::span<const loop_state* const> loops) {
  std::string out;
  out.reserve(8192);
  writer w(out);
  if (!loops.empty() && loops.front()->metrics) render_requests(w, loops);

  w.family("c10k_http_connections_open", "gauge", "Connections open now.");
  for (std::size_t i = 0; i < loops.size(); ++i)
    w.sample("c10k_http_connections_open", fmt::format("loop=\"{}\"", i), loops[i]->connection_count.load(std::memory_order_relaxed));
  render_backend(w, loops);

  w.family("c10k_loop_turns_total", "counter", "Event-loop turns.");
  per_loop_activity(w, loops, "c10k_loop_turns_total", [](const loop_activity& a) -> std::uint64_t { return a.turns; });
  w.family("c10k_loop_ready_queue_length", "gauge", "Waiters queued at the last turn's ready phase.");
  per_loop_activity(w, loops, "c10k_loop_ready_queue_length", [](const loop_activity& a) -> std::uint64_t { return a.ready_length; });
  w.family("c10k_loop_timers", "gauge", "Entries in the loop's timer heap at its last turn.");
  per_loop_activity(w, loops, "c10k_loop_timers", [](const loop_activity& a) -> std::uint64_t { return a.timers; });
  w.family("c10k_fibers_alive", "gauge", "Fibers (stacks held) on the loop's thread.");
  per_loop_activity(w, loops, "c10k_fibers_alive", [](const loop_activity& a) -> std::uint64_t { return a.fibers_alive; });
  w.family("c10k_fiber_stack_bytes", "gauge", "Usable bytes of the fiber stacks held on the loop's thread.");
  per_loop_activity(w, loops, "c10k_fiber_stack_bytes", [](const loop_activity& a) -> std::uint64_t { return a.fiber_stack_bytes; });

  const helper_pool_stats h = helper_pool_snapshot();
  w.family("c10k_offload_queue_depth", "gauge", "Offloaded jobs waiting for a helper thread.");
  w.sample("c10k_offload_queue_depth", "", h.queued);
  w.family("c10k_offload_threads_busy", "gauge", "Helper threads running a job now.");
  w.sample("c10k_offload_threads_busy", "", h.busy);
  w.family("c10k_offload_threads", "gauge", "Helper threads (0 before the pool's first use).");
  w.sample("c10k_offload_threads", "", h.threads);
  return out;
}

response metrics_response(const server& s) {
  response r(200);
  r.set_header("Content-Type", std::string(metrics_content_type));
  r.set_body(s.metrics_text());
  return r;
}

}  // namespace c10k::http
