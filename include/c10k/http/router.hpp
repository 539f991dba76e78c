// router: method + path pattern to handler, with path parameters ("/users/{id}").
//
// A handler is straight-line code returning task<response>. No route for the path gives 404;
// routes for the path but not the method give 405 with an Allow header. HEAD falls back to the
// GET route (the server sends the head without the body).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "c10k/http/request.hpp"
#include "c10k/http/response.hpp"
#include "c10k/task.hpp"

namespace c10k::http {

using handler = std::function<task<response>(request&)>;

// A blocking-style handler: plain code that returns a response and may block deep in a call
// stack through fiber::await (a database driver, a template engine). It runs on a fiber of
// its own, on the connection's loop, so the loop keeps serving while it waits.
using blocking_handler = std::function<response(request&)>;

// Wraps a blocking handler into a coroutine handler that runs it on a fiber and joins it
// (its exception becomes the coroutine's, hence a 500): on the calling fiber when there is one
// (connections on fibers), else on a fiber of its own.
handler on_fiber(blocking_handler h);

struct route_options {
  // Run the handler as soon as the head has arrived and let it read the body as a stream
  // (request::body_stream()), instead of collecting the whole body first.
  bool stream_body = false;
  // For a blocking_handler that never blocks (no fiber::await, no slow system call): the server
  // calls it in place on the loop thread, with no fiber and no coroutine frame of its own, the
  // cheapest route there is. Blocking in such a handler stalls every connection of its loop.
  bool never_blocks = false;
};

struct route_match;

class router {
 public:
  // Adds a route; segments written "{name}" match any one non-empty segment and become
  // request::param(name); a last segment "{name...}" matches the rest of the path, slashes
  // included (possibly empty). Returns *this for chaining.
  router& add(std::string_view method, std::string_view pattern, handler h, route_options options = {});
  router& get(std::string_view pattern, handler h, route_options o = {}) { return add("GET", pattern, std::move(h), o); }
  router& post(std::string_view pattern, handler h, route_options o = {}) { return add("POST", pattern, std::move(h), o); }
  router& put(std::string_view pattern, handler h, route_options o = {}) { return add("PUT", pattern, std::move(h), o); }
  router& del(std::string_view pattern, handler h, route_options o = {}) { return add("DELETE", pattern, std::move(h), o); }
  // The same for blocking-style handlers, each request run on a fiber (see on_fiber).
  // With route_options::never_blocks it is called in place instead.
  router& add(std::string_view method, std::string_view pattern, blocking_handler h, route_options o = {});
  router& get(std::string_view pattern, blocking_handler h, route_options o = {}) { return add("GET", pattern, std::move(h), o); }
  router& post(std::string_view pattern, blocking_handler h, route_options o = {}) { return add("POST", pattern, std::move(h), o); }
  router& put(std::string_view pattern, blocking_handler h, route_options o = {}) { return add("PUT", pattern, std::move(h), o); }
  router& del(std::string_view pattern, blocking_handler h, route_options o = {}) { return add("DELETE", pattern, std::move(h), o); }

  // Finds the route for req, recording its path parameters in req. Returns the handler, or
  // nullptr and sets `fallback` to the 404 or 405 response to send.
  // When `options` is given, it receives the route's options.
  const handler* find(request& req, response& fallback, route_options* options = nullptr) const;
  // Runs the handler for req, or yields its 404/405 response. Exceptions from the handler
  // propagate (the server turns them into 500).
  task<response> dispatch(request& req) const;
  // Replaces every route's handler h by wrap(h) (the server's request deadlines).
  void wrap_handlers(const std::function<handler(handler)>& wrap);

 private:
  struct route {
    std::string method;
    std::vector<std::string> segments;  // "{name}" for parameters
    handler h;
    route_options options;
    std::string path;   // the pattern without its leading '/', when exact
    bool exact = true;  // no parameters: matched by comparing the whole path
    blocking_handler in_place;  // never_blocks: what h runs, for the server to call directly
  };
  static bool match(const route& r, std::string_view path, request* req);
  const route* lookup(request& req, response& fallback) const;
  friend void find_route(const router& routes, request& req, route_match& m);
  std::vector<route> routes_;
};

}  // namespace c10k::http
