#include "dispatcher.hpp"

#include <exception>

#include "c10k/fiber.hpp"
#include "c10k/log.hpp"

namespace c10k::http {

void find_route(const router& routes, request& req, route_match& m) {
  const router::route* r = routes.lookup(req, m.fallback);
  m.handler_fn = r ? &r->h : nullptr;
  m.in_place = r && r->in_place ? &r->in_place : nullptr;
  m.options = r ? r->options : route_options{};
}

response handler_failed(const request& req) {
  try {
    throw;
  } catch (const fiber_unwound&) {
    throw;
  } catch (const std::exception& e) {
    log(log_level::error, "handler for {} {} failed: {}", req.method(), req.path(), e.what());
  } catch (...) {
    log(log_level::error, "handler for {} {} failed with a non-standard exception", req.method(), req.path());
  }
  return response::text(500, "Internal Server Error\n");
}

}  // namespace c10k::http
