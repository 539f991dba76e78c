// Out of memory for one connection's buffer: that connection is closed, the server lives.
// This binary's operator new refuses any single allocation over 256 MiB, so a request whose
// declared body makes the connection reserve that much fails the way a real OOM would.
#include <gtest/gtest.h>

#include <cstdlib>
#include <new>
#include <string>

#include "backend_param.hpp"
#include "c10k/http/server.hpp"
#include "c10k/log.hpp"
#include "http_client.hpp"

namespace {
constexpr std::size_t refuse_over = std::size_t(256) << 20;
}

// GCC cannot see that this file replaces operator new with malloc, and warns on the frees.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
  if (n > refuse_over) throw std::bad_alloc();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

using namespace c10k;
using c10k::testing::get;
using c10k::testing::http_client;

namespace {
class oom_test : public c10k::testing::backend_test {};
}  // namespace

TEST_P(oom_test, a_buffer_that_cannot_be_allocated_closes_only_its_connection) {
  std::vector<std::string> lines;
  auto previous = set_log_sink([&](log_level, std::string_view l) { lines.emplace_back(l); });
  http::router r;
  r.post("/echo", [](http::request& q) -> task<http::response> { co_return http::response::text(200, std::string(q.body())); });
  r.get("/plain", [](http::request&) -> task<http::response> { co_return http::response::text(200, "x"); });
  http::server srv(std::move(r), {.host = "127.0.0.1", .port = 0, .threads = 1, .backend = backend_name(),
                                  .max_body_bytes = std::size_t(1) << 30});
  ASSERT_TRUE(srv.start());
  http_client bystander(srv.port());
  ASSERT_TRUE(bystander.request(get("/plain")));
  {
    http_client greedy(srv.port());
    // 512 MiB declared: reserving room for it fails.
    greedy.send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 536870912\r\n\r\nsome");
    EXPECT_TRUE(greedy.closed_by_server());
  }
  auto after = bystander.request(get("/plain"));
  ASSERT_TRUE(after);
  EXPECT_EQ(after->body, "x");
  srv.stop();
  srv.wait();
  set_log_sink(previous);
  bool logged = false;
  for (const auto& l : lines) logged = logged || l.find("bad_alloc") != std::string::npos || l.find("memory") != std::string::npos;
  EXPECT_TRUE(logged) << "the failure should be logged";
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(oom_test);
