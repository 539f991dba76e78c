#include "c10k/http/router.hpp"

#include <memory>

#include "c10k/event_loop.hpp"
#include "c10k/fiber.hpp"

namespace c10k::http {
namespace {

// Awaits a (suspend_with) awaiter outside any cancel scope: the wait cannot be cut short.
template <typename A>
struct unscoped {
  A a;
  bool await_ready() const noexcept { return false; }
  bool await_suspend(std::coroutine_handle<> h) { return detail::suspend_or_park(a, waiter::of(h), nullptr); }
  decltype(auto) await_resume() { return a.await_resume(); }
};

// Calls fn(segment) for each '/'-separated segment of path, skipping the leading '/'.
template <typename F>
bool each_segment(std::string_view path, F&& fn) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  for (;;) {
    auto slash = path.find('/');
    if (!fn(path.substr(0, slash))) return false;
    if (slash == std::string_view::npos) return true;
    path.remove_prefix(slash + 1);
  }
}

// a == b for the short strings of routing (methods, path segments): sizes first, then the
// bytes in line, where a call to memcmp would cost more than the comparison itself.
bool same(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

bool is_param(std::string_view s) { return s.size() > 2 && s.front() == '{' && s.back() == '}'; }
// "{name...}" takes the rest of the path, slashes included (as in Go's net/http patterns).
bool is_rest_param(std::string_view s) { return is_param(s) && s.size() > 5 && s.substr(s.size() - 4) == "...}"; }

}  // namespace

router& router::add(std::string_view method, std::string_view pattern, handler h, route_options options) {
  route r{std::string(method), {}, std::move(h), options, {}, true, {}};
  each_segment(pattern, [&](std::string_view seg) {
    r.segments.emplace_back(seg);
    if (is_param(seg)) r.exact = false;
    return true;
  });
  if (r.exact) r.path = pattern.substr(!pattern.empty() && pattern.front() == '/');
  routes_.push_back(std::move(r));
  return *this;
}

router& router::add(std::string_view method, std::string_view pattern, blocking_handler h, route_options o) {
  if (!o.never_blocks) return add(method, pattern, on_fiber(std::move(h)), o);
  auto fn = std::make_shared<blocking_handler>(h);
  add(method, pattern, handler([fn](request& req) -> task<response> { co_return (*fn)(req); }), o);
  routes_.back().in_place = std::move(h);
  return *this;
}

bool router::match(const route& r, std::string_view path, request* req) {
  // Most routes have no parameters: one comparison instead of a walk over the segments.
  if (r.exact) return same(path.substr(!path.empty() && path.front() == '/'), r.path);
  std::size_t i = 0;
  bool rest = false;
  bool ok = each_segment(path, [&](std::string_view seg) {
    if (rest) return true;
    if (i >= r.segments.size()) return false;
    const std::string& want = r.segments[i++];
    if (is_rest_param(want)) {
      rest = true;
      // seg.data() points into path: the rest runs from here to its end.
      std::string_view tail(seg.data(), static_cast<std::size_t>(path.data() + path.size() - seg.data()));
      if (req) req->set_param(std::string_view(want).substr(1, want.size() - 5), tail);
      return true;
    }
    if (is_param(want)) {
      if (seg.empty()) return false;
      if (req) req->set_param(std::string_view(want).substr(1, want.size() - 2), seg);
      return true;
    }
    return seg == want;
  });
  return ok && i == r.segments.size();
}

// The route for req, its path parameters recorded in req; or nullptr, with the 404 or 405
// (with Allow) to send in `fallback`. The Allow list is built only when it is needed.
const router::route* router::lookup(request& req, response& fallback) const {
  const std::string_view method = req.method();
  const std::string_view path = req.path();
  const route* found = nullptr;
  const route* get_route = nullptr;  // HEAD falls back to GET
  // Exact routes compared here, in line: most routes are, and a call per route cost more than
  // the comparison.
  const std::string_view rel = path.substr(!path.empty() && path.front() == '/');
  for (const route& r : routes_) {
    if (r.exact ? !same(rel, r.path) : !match(r, path, nullptr)) continue;
    if (same(r.method, method)) {
      found = &r;
      break;
    }
    if (!get_route && r.method == "GET" && method == "HEAD") get_route = &r;
  }
  if (!found) found = get_route;
  if (found) {
    req.clear_params();
    if (!found->exact) match(*found, path, &req);
    return found;
  }
  std::string allow;
  for (const route& r : routes_) {
    if (!match(r, path, nullptr) || allow.find(r.method) != std::string::npos) continue;
    if (!allow.empty()) allow += ", ";
    allow += r.method;
    if (r.method == "GET" && allow.find("HEAD") == std::string::npos) allow += ", HEAD";
  }
  if (allow.empty()) {
    fallback = response::text(404, "Not Found\n");
  } else {
    fallback = response::text(405, "Method Not Allowed\n");
    fallback.set_header("Allow", std::move(allow));
  }
  return nullptr;
}

const handler* router::find(request& req, response& fallback, route_options* options) const {
  const route* r = lookup(req, fallback);
  if (!r) return nullptr;
  if (options) *options = r->options;
  return &r->h;
}

handler on_fiber(blocking_handler h) {
  return [h = std::make_shared<blocking_handler>(std::move(h))](request& req) -> task<response> {
    // Already on a fiber (the connection's own, with server_options::fiber_connections):
    // blocking there parks that fiber, which is all a blocking handler needs.
    // Either way the handler's waits run in the caller's scope (a request deadline reaches
    // them).
    cancel_scope* scope = co_await current_scope();
    if (fiber::in_fiber()) {
      cancel_scope* const outer = fiber::set_scope(scope);
      struct restore {
        cancel_scope* outer;
        ~restore() { fiber::set_scope(outer); }
      } put_back{outer};
      co_return (*h)(req);
    }
    // The fiber lives in the caller's scope, and is joined whatever happens to the caller's
    // scope (it cannot outlive req): a cancelled scope ends its waits, so it ends soon.
    auto fiber = spawn_fiber(*event_loop::current(), [h, &req, scope] {
      fiber::set_scope(scope);
      return (*h)(req);
    });
    co_return co_await unscoped<decltype(fiber.join())>{fiber.join()};
  };
}

void router::wrap_handlers(const std::function<handler(handler)>& wrap) {
  for (route& r : routes_) r.h = wrap(std::move(r.h));
}

task<response> router::dispatch(request& req) const {
  response fallback;
  if (const handler* h = find(req, fallback)) co_return co_await (*h)(req);
  co_return fallback;
}

}  // namespace c10k::http
