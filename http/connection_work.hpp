// connection_work: what one burst of requests needs besides its frame (private to
// c10k::http): the reader's and writer's buffers and the route match, taken from the loop's
// work_pool (loop_state.hpp) for the burst, so that a busy connection allocates nothing and an
// idle one holds none of it.
#pragma once

#include <cstddef>
#include <memory>
#include <optional>

#include "c10k/cancel.hpp"
#include "c10k/http/request.hpp"
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
  // The request under way, from its head on; kept here so that its path parameters' vector is
  // allocated once per pooled object, not per request (request::reset).
  std::optional<request> current;
  clock::time_point started{};  // the turn the request under way's head was parsed in (dump)
  // Where the task dump finds what the handler under way waits on (every wait registers with
  // its scope anyway): on a fiber, the scope the burst runs in (the fiber's, which handlers
  // inherit); in coroutine mode, which has none, handler_scope. Set once per burst.
  const cancel_scope* waits_in = nullptr;
  // The scope awaited handlers run in, in coroutine mode. Kept with the pooled object, so a
  // request pays no scope of its own; nobody cancels it.
  cancel_scope handler_scope;
  // Capacity kept for the next burst; a burst that needed more gives it back.
  static constexpr std::size_t keep_bytes = 64 * 1024;
  // handler_scope as new, even when the last handler cancelled it or gave it a deadline.
  cancel_scope& fresh_handler_scope() noexcept {
    if (handler_scope.cancelled() || handler_scope.own_deadline() != clock::time_point::max()) {
      std::destroy_at(&handler_scope);
      std::construct_at(&handler_scope);
    }
    return handler_scope;
  }
  void reset() noexcept {
    reader.reset(keep_bytes);
    writer.reset(keep_bytes);
  }
};

}  // namespace c10k::http
