// The task dump is built from what a loop already owns (its connection list, each connection's
// deadline and burst, its list of live fibers, its count of detached tasks), so that nothing
// on the request path or in a switch records anything for it.
#include "task_dump.hpp"

#include <fmt/format.h>

#include "c10k/fiber.hpp"
#include "loop_state.hpp"

namespace c10k::http {

std::string describe_loop(const loop_state& st, unsigned index) {
  std::string out;
  const event_loop& loop = *st.loop;
  const loop_activity& a = loop.activity();
  fmt::format_to(std::back_inserter(out),
                 "loop {}: {} turns, {} waiter(s) ready at the last turn, {} timer(s), {} detached task(s), "
                 "{} connection(s){}\n",
                 index, static_cast<std::uint64_t>(a.turns), static_cast<std::uint64_t>(a.ready_length),
                 static_cast<std::uint64_t>(a.timers), loop.task_count(),
                 st.connection_count.load(std::memory_order_relaxed), st.draining ? ", draining" : "");
  describe_connections(st, out);
  detail::fiber_core::describe_all(loop, out);
  return out;
}

}  // namespace c10k::http
