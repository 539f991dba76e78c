// The server reuses one request object per pooled burst object (request::reset): nothing of a
// request (path parameters, the body stream, the query) may show in a later one on the same
// connection or on the next connection that gets the object; on every backend.
#include <gtest/gtest.h>

#include <string>

#include "backend_param.hpp"
#include "c10k/http/server.hpp"
#include "http_client.hpp"
#include "test_server.hpp"

using namespace c10k;
using c10k::testing::get;
using c10k::testing::http_client;

namespace {

class request_reuse_test : public c10k::testing::backend_test {
 protected:
  static http::router routes() {
    http::router r;
    r.get("/p/{x}", [](http::request& q) -> task<http::response> {
      co_return http::response::text(200, "x=" + std::string(q.param("x")) + " q=" + std::string(q.query()));
    });
    r.get("/none", [](http::request& q) -> task<http::response> {
      co_return http::response::text(200, "x=" + std::string(q.param("x")) + " q=" + std::string(q.query()));
    });
    r.add("POST", "/stream", [](http::request& q) -> task<http::response> {
      std::string got;
      for (;;) {
        auto piece = co_await q.body_stream().read();
        if (!piece || piece->empty()) break;
        got += *piece;
      }
      co_return http::response::text(200, got);
    }, {.stream_body = true});
    r.post("/whole", [](http::request& q) -> task<http::response> {
      try {
        (void)q.body_stream();  // not a streaming route: must throw, whatever came before
        co_return http::response::text(200, "a body stream on a whole-body route");
      } catch (const std::logic_error&) {
        co_return http::response::text(200, "whole: " + std::string(q.body()));
      }
    });
    return r;
  }
};

}  // namespace

TEST_P(request_reuse_test, nothing_of_a_request_shows_in_the_next) {
  auto srv = c10k::testing::start_test_server(routes(), backend_name());
  for (int conn = 0; conn < 2; ++conn) {
    http_client c(srv->port());
    auto a = c.request(get("/p/seven?k=1"));
    ASSERT_TRUE(a);
    EXPECT_EQ(a->body, "x=seven q=k=1");
    auto b = c.request(get("/none"));
    ASSERT_TRUE(b);
    EXPECT_EQ(b->body, "x= q=");
    auto s = c.request("POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
    ASSERT_TRUE(s);
    EXPECT_EQ(s->body, "abc");
    auto w = c.request("POST /whole HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nde");
    ASSERT_TRUE(w);
    EXPECT_EQ(w->body, "whole: de");
    // Pipelined: all four in one send, answered in order.
    c.send(get("/p/one") + "POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nz" +
           "POST /whole HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\ny" + get("/none?"));
    for (const char* want : {"x=one q=", "z", "whole: y", "x= q="}) {
      auto r = c.read_reply();
      ASSERT_TRUE(r);
      EXPECT_EQ(r->body, want);
    }
  }
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(request_reuse_test);
