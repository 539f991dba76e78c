// metrics_render: a server's loops as Prometheus text (private to c10k::http).
#pragma once

#include <span>
#include <string>

namespace c10k::http {

struct loop_state;

// The metrics of `loops` (index = the loop label) in the Prometheus text format 0.0.4: reads
// each loop's single-writer counters with relaxed loads, from any thread.
std::string render_metrics(std::span<const loop_state* const> loops);

}  // namespace c10k::http
