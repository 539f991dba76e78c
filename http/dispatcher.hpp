// dispatcher: finds a request's route once; turns a handler's failure into a 500 (private to
// c10k::http). The connection awaits the handler itself, inside a try block, rather than
// through a wrapping coroutine: one frame and one resumption less per request.
#pragma once

#include "c10k/http/request.hpp"
#include "c10k/http/response.hpp"
#include "c10k/http/router.hpp"

namespace c10k::http {

// The route a request goes to, found once per request.
struct route_match {
  const handler* handler_fn = nullptr;  // nullptr: the router answers with `fallback`
  const blocking_handler* in_place = nullptr;  // never_blocks: call this directly instead
  response fallback;                    // 404, or 405 with Allow
  route_options options;
};

// Finds the route for req (filling its path parameters) into m.
void find_route(const router& routes, request& req, route_match& m);

// Called in a catch block around a handler: rethrows fiber_unwound (a connection's fiber
// being destroyed with its loop must unwind), else logs the failure and returns the 500 the
// client gets instead of a dead connection.
response handler_failed(const request& req);

}  // namespace c10k::http
