// task_dump: what one loop holds, as text, for server::dump_tasks (private to c10k::http).
#pragma once

#include <string>

namespace c10k::http {

struct loop_state;

// Loop `index`'s part of the dump: its activity, its connections, its parked fibers. Only on
// that loop's own thread (it walks the loop's lists).
std::string describe_loop(const loop_state& st, unsigned index);

}  // namespace c10k::http
