// The routes the stress servers serve, and the body each request must get back, so that a
// client can check every response it completes.
#pragma once

#include <unistd.h>

#include <atomic>
#include <charconv>
#include <chrono>
#include <string>
#include <string_view>
#include <thread>

#include "c10k/fiber.hpp"
#include "c10k/http/router.hpp"
#include "c10k/offload.hpp"
#include "c10k/time.hpp"
#include "stress.hpp"

namespace c10k::stress {

// What the handlers saw, for the tests' invariants.
struct handler_counters {
  std::atomic<std::uint64_t> started{0};
  std::atomic<std::uint64_t> finished{0};
  std::atomic<std::uint64_t> offload_jobs_done{0};  // helper-pool jobs that ran to their end
};

inline unsigned number_param(const http::request& q, std::string_view name) {
  const std::string_view v = q.param(name);
  unsigned n = 0;
  std::from_chars(v.data(), v.data() + v.size(), n);
  return n;
}

// `kb` KiB of a pattern that shows an offset error at once.
inline std::string big_body(unsigned kb) {
  std::string s(static_cast<std::size_t>(kb) * 1024, '\0');
  for (std::size_t i = 0; i < s.size(); ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 1024) % 26);
  return s;
}

inline std::string stream_body(unsigned pieces) {
  std::string s;
  for (unsigned i = 0; i < pieces; ++i) s += "piece " + std::to_string(i) + "\n";
  return s;
}

// The body the server must answer `path` (a GET route below) with.
inline std::string expected_body(std::string_view path) {
  auto tail = [&](std::string_view prefix) {
    unsigned n = 0;
    const std::string_view v = path.substr(prefix.size());
    std::from_chars(v.data(), v.data() + v.size(), n);
    return n;
  };
  if (path == "/hello") return "hello\n";
  if (path.starts_with("/sleep/")) return "slept " + std::to_string(tail("/sleep/"));
  if (path.starts_with("/fiber/")) return "fiber slept " + std::to_string(tail("/fiber/"));
  if (path.starts_with("/offload/")) return "offloaded " + std::to_string(tail("/offload/"));
  if (path.starts_with("/stream/")) return stream_body(tail("/stream/"));
  if (path.starts_with("/big/")) return big_body(tail("/big/"));
  return "?";
}

// The routes: each handler notes its thread for the signal storm and counts itself.
//   GET  /hello          a constant
//   GET  /sleep/{ms}     after a sleep on the loop
//   GET  /fiber/{ms}     a blocking-style handler that sleeps on its fiber
//   GET  /offload/{ms}   a blocking sleep on the helper pool
//   GET  /stream/{n}     n pieces, one write each (chunked)
//   GET  /big/{kb}       kb KiB in one body
//   POST /echo           the request body
inline http::router stress_routes(thread_registry& threads, handler_counters& counts) {
  http::router r;
  auto* t = &threads;
  auto* c = &counts;
  r.get("/hello", [t, c](http::request&) -> task<http::response> {
    t->note_current();
    ++c->started;
    ++c->finished;
    co_return http::response::text(200, "hello\n");
  });
  r.get("/sleep/{ms}", [t, c](http::request& q) -> task<http::response> {
    t->note_current();
    ++c->started;
    const unsigned ms = number_param(q, "ms");
    co_await sleep_for(std::chrono::milliseconds(ms));
    ++c->finished;
    co_return http::response::text(200, "slept " + std::to_string(ms));
  });
  r.get("/fiber/{ms}", [t, c](http::request& q) -> http::response {
    t->note_current();
    ++c->started;
    const unsigned ms = number_param(q, "ms");
    (void)fiber::sleep_for(std::chrono::milliseconds(ms));
    ++c->finished;
    return http::response::text(200, "fiber slept " + std::to_string(ms));
  });
  r.get("/offload/{ms}", [t, c](http::request& q) -> task<http::response> {
    t->note_current();
    ++c->started;
    const unsigned ms = number_param(q, "ms");
    co_await offload([t, c, ms] {
      t->note_current();  // helper threads live as long as the process: safe to signal
      std::this_thread::sleep_for(std::chrono::milliseconds(ms));
      ++c->offload_jobs_done;
      return 0;
    });
    ++c->finished;
    co_return http::response::text(200, "offloaded " + std::to_string(ms));
  });
  r.get("/stream/{n}", [t, c](http::request& q) -> task<http::response> {
    t->note_current();
    ++c->started;
    const unsigned n = number_param(q, "n");
    http::response resp(200);
    resp.set_stream([n](http::body_writer& w) -> task<void> {
      for (unsigned i = 0; i < n; ++i)
        if (!co_await w.write("piece " + std::to_string(i) + "\n")) co_return;
    });
    ++c->finished;
    co_return resp;
  });
  r.get("/big/{kb}", [t, c](http::request& q) -> task<http::response> {
    t->note_current();
    ++c->started;
    ++c->finished;
    co_return http::response::text(200, big_body(number_param(q, "kb")));
  });
  r.post("/echo", [t, c](http::request& q) -> task<http::response> {
    t->note_current();
    ++c->started;
    ++c->finished;
    co_return http::response::text(200, std::string(q.body()));
  });
  return r;
}

}  // namespace c10k::stress
