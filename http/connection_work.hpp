// connection_work: what one burst of requests needs besides its frame (private to
// c10k::http): the reader's and writer's buffers and the route match, taken from the loop's
// work_pool (loop_state.hpp) for the burst, so that a busy connection allocates nothing and an
// idle one holds none of it.
#pragma once

#include <cstddef>

#include "c10k/cancel.hpp"
#include "c10k/time.hpp"
#include "dispatcher.hpp"
#include "request_reader.hpp"
#include "response_writer.hpp"

namespace c10k::http {

// The buffers of one burst of requests (pooled per loop, see work_pool).
struct connection_work {
  request_reader reader;
  response_writer writer;
  route_match route;  // kept here: its fallback response is built once per pooled object
  clock::time_point started{};  // the turn the request under way's head was parsed in (dump)
  cancel_scope* handler_scope = nullptr;  // the scope its handler's waits run in, while it runs (dump)
  // Capacity kept for the next burst; a burst that needed more gives it back.
  static constexpr std::size_t keep_bytes = 64 * 1024;
  void reset() noexcept {
    reader.reset(keep_bytes);
    writer.reset(keep_bytes);
  }
};

}  // namespace c10k::http
