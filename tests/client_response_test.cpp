// What a client_response shows of its head (status, headers, Content-Length), and that it stays
// readable after its body was read and its connection went back to the pool to carry other
// requests; on every backend, from coroutines and fibers.
#include <gtest/gtest.h>

#include <string>

#include "c10k/http/client.hpp"
#include "client_harness.hpp"
#include "raw_upstream.hpp"

using namespace c10k;
using c10k::testing::raw_peer;
using c10k::testing::raw_upstream;

namespace {

http::upstream local(std::uint16_t port) { return {"127.0.0.1", port}; }

http::client_request get(std::string target) {
  http::client_request q;
  q.target = std::move(target);
  return q;
}

// Answers /cl/N with an N-byte body and Content-Length, /chunked chunked, /empty with
// Content-Length: 0, and /h/N with N extra headers, all on one kept-alive connection.
raw_upstream varied() {
  return raw_upstream([](raw_peer& p, int) {
    for (std::string q; !(q = p.read_request()).empty();) {
      const std::string target = q.substr(4, q.find(' ', 4) - 4);
      if (target.starts_with("/cl/")) {
        const std::size_t n = std::stoul(target.substr(4));
        p.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(n) + "\r\nX-Target: " + target + "\r\n\r\n" +
               std::string(n, 'b'));
      } else if (target == "/chunked") {
        p.send("HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
      } else if (target == "/empty") {
        p.send("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
      } else {
        const int n = std::stoi(target.substr(3));
        std::string h = "HTTP/1.1 202 Accepted with a long reason phrase\r\nContent-Length: 1\r\n";
        for (int i = 0; i < n; ++i) h += "X-H" + std::to_string(i) + ": value-" + std::to_string(i) + "-of-" + target + "\r\n";
        p.send(h + "\r\nz");
      }
    }
  });
}

class client_response_test : public c10k::testing::client_mode_test {};

}  // namespace

TEST_P(client_response_test, content_length_is_the_announced_length_and_zero_for_other_framings) {
  raw_upstream up = varied();
  event_loop loop(backend_name());
  http::client cl;
  run(loop, [&] {
    auto sized = call(loop, cl.send(local(up.port()), get("/cl/1234")));
    ASSERT_TRUE(sized) << sized.error().message();
    EXPECT_EQ(sized->framing(), http::response_framing::content_length);
    EXPECT_EQ(sized->content_length(), 1234u);
    auto body = call(loop, sized->read_all());
    ASSERT_TRUE(body) << body.error().message();
    EXPECT_EQ(body->size(), 1234u);

    auto chunked = call(loop, cl.send(local(up.port()), get("/chunked")));
    ASSERT_TRUE(chunked) << chunked.error().message();
    EXPECT_EQ(chunked->framing(), http::response_framing::chunked);
    EXPECT_EQ(chunked->content_length(), 0u);
    EXPECT_EQ(call(loop, chunked->read_all()).value(), "abc");

    auto empty = call(loop, cl.send(local(up.port()), get("/empty")));
    ASSERT_TRUE(empty) << empty.error().message();
    EXPECT_EQ(empty->framing(), http::response_framing::none);
    EXPECT_EQ(empty->content_length(), 0u);
  });
  EXPECT_EQ(up.connections(), 1);
}

TEST_P(client_response_test, a_head_stays_readable_while_its_connection_carries_later_responses) {
  raw_upstream up = varied();
  event_loop loop(backend_name());
  http::client cl;
  run(loop, [&] {
    // Each response is read to its end (its connection goes back to the pool) and kept while
    // the next ones, with more and fewer headers, come over the same connection.
    std::vector<http::client_response> kept;
    const int sizes[] = {3, 40, 0, 12, 1, 60};
    for (const int n : sizes) {
      auto r = call(loop, cl.send(local(up.port()), get("/h/" + std::to_string(n))));
      ASSERT_TRUE(r) << r.error().message();
      EXPECT_EQ(call(loop, r->read_all()).value(), "z");
      kept.push_back(std::move(*r));
    }
    ASSERT_EQ(kept.size(), std::size(sizes));
    for (std::size_t k = 0; k < kept.size(); ++k) {
      const http::client_response& r = kept[k];
      const std::string target = "/h/" + std::to_string(sizes[k]);
      EXPECT_EQ(r.status(), 202);
      EXPECT_EQ(r.reason(), "Accepted with a long reason phrase");
      ASSERT_EQ(r.headers().size(), static_cast<std::size_t>(sizes[k]) + 1) << target;
      for (int i = 0; i < sizes[k]; ++i) {
        const std::string name = "x-h" + std::to_string(i);
        EXPECT_EQ(r.header(name).value_or("(none)"), "value-" + std::to_string(i) + "-of-" + target);
      }
    }
  });
  EXPECT_EQ(up.connections(), 1);
}

TEST_P(client_response_test, each_response_starts_afresh_after_the_one_before_it_ended) {
  // A response that ended leaves its state to the next one on the loop (its buffers' capacity):
  // the chunked decoder, the counts and the error must not carry over.
  raw_upstream up = varied();
  event_loop loop(backend_name());
  http::client cl;
  run(loop, [&] {
    for (int round = 0; round < 3; ++round) {
      for (const char* target : {"/chunked", "/cl/5", "/chunked", "/empty", "/h/7"}) {
        auto r = call(loop, cl.fetch(local(up.port()), get(target)));
        ASSERT_TRUE(r) << target << ": " << r.error().message();
        const std::string want = std::string(target) == "/chunked" ? "abc"
                                 : std::string(target) == "/cl/5"  ? "bbbbb"
                                 : std::string(target) == "/h/7"   ? "z"
                                                                   : "";
        EXPECT_EQ(r->body, want) << target << " in round " << round;
        EXPECT_EQ(r->status, std::string(target) == "/chunked" ? 201 : std::string(target) == "/h/7" ? 202 : 200);
      }
    }
  });
  EXPECT_EQ(up.connections(), 1);
}

TEST_P(client_response_test, assigning_over_a_read_response_gives_its_connection_back_to_the_pool) {
  raw_upstream up = varied();
  event_loop loop(backend_name());
  http::client cl;
  run(loop, [&] {
    auto first = call(loop, cl.send(local(up.port()), get("/cl/5")));
    ASSERT_TRUE(first) << first.error().message();
    http::client_response r = std::move(*first);
    EXPECT_EQ(call(loop, r.read()).value(), "bbbbb");  // the whole body: the connection may be reused
    auto second = call(loop, cl.send(local(up.port()), get("/cl/3")));  // on a second connection
    ASSERT_TRUE(second) << second.error().message();
    EXPECT_EQ(cl.idle_connections(local(up.port())), 0u);
    r = std::move(*second);  // the first response ends here, as if destroyed
    EXPECT_EQ(cl.idle_connections(local(up.port())), 1u);
    EXPECT_EQ(call(loop, r.read_all()).value(), "bbb");
    EXPECT_EQ(cl.idle_connections(local(up.port())), 2u);
  });
  EXPECT_EQ(cl.stats().connects, 2u);
}

TEST_P(client_response_test, max_body_bytes_holds_for_a_body_that_came_with_its_head) {
  raw_upstream up = varied();
  event_loop loop(backend_name());
  http::client_options o;
  o.max_body_bytes = 4;
  http::client cl(o);
  run(loop, [&] {
    auto fits = call(loop, cl.fetch(local(up.port()), get("/cl/4")));
    ASSERT_TRUE(fits) << fits.error().message();
    EXPECT_EQ(fits->body, "bbbb");
    auto over = call(loop, cl.fetch(local(up.port()), get("/cl/5")));
    ASSERT_FALSE(over);
    EXPECT_EQ(over.error(), std::errc::file_too_large);
  });
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND_AND_MODE(client_response_test);
