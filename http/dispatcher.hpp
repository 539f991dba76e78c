// dispatcher: finds a request's route once and runs its handler (private to c10k::http).
#pragma once

#include "c10k/http/request.hpp"
#include "c10k/http/response.hpp"
#include "c10k/http/router.hpp"

namespace c10k::http {

// The route a request goes to, found once per request.
struct route_match {
  const handler* handler_fn = nullptr;  // nullptr: the router answers with `fallback`
  response fallback;                    // 404, or 405 with Allow
  route_options options;
};

// Finds the route for req (filling its path parameters) into m.
inline void find_route(const router& routes, request& req, route_match& m) {
  m.options = {};
  m.handler_fn = routes.find(req, m.fallback, &m.options);
}

// Runs h for req; a handler that throws gets the client a 500 (logged), not a dead connection.
task<response> call_handler(const handler& h, request& req);

}  // namespace c10k::http
