// The response head parser: the request parser's rules applied to responses, and the framing
// a response's status and the request's method decide.
#include <gtest/gtest.h>

#include "c10k/http/response_parser.hpp"

using namespace c10k::http;

namespace {

parse_result parse(std::string_view in, response_head& h, bool head_request = false, parse_limits l = {}) {
  return parse_response_head(in, h, head_request, l);
}

TEST(response_parser, a_plain_response_parses_with_its_framing) {
  response_head h;
  const std::string in = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A:  b  \r\n\r\nhello";
  const auto r = parse(in, h);
  ASSERT_EQ(r.status, parse_status::done);
  EXPECT_EQ(r.consumed, in.size() - 5);
  EXPECT_EQ(h.status, 200);
  EXPECT_EQ(h.reason, "OK");
  EXPECT_EQ(h.framing, response_framing::content_length);
  EXPECT_EQ(h.content_length, 5u);
  EXPECT_EQ(h.header("x-a"), "b");
  EXPECT_TRUE(h.keep_alive);
}

TEST(response_parser, every_prefix_is_incomplete) {
  const std::string in = "HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (std::size_t n = 0; n < in.size(); ++n) {
    response_head h;
    EXPECT_EQ(parse(in.substr(0, n), h).status, parse_status::incomplete) << n;
  }
  response_head h;
  ASSERT_EQ(parse(in, h).status, parse_status::done);
  EXPECT_EQ(h.framing, response_framing::chunked);
}

TEST(response_parser, bodiless_statuses_and_head_requests_have_no_body) {
  for (const char* in : {"HTTP/1.1 204 No Content\r\nContent-Length: 4\r\n\r\n", "HTTP/1.1 304 Not Modified\r\n\r\n",
                         "HTTP/1.1 100 Continue\r\n\r\n"}) {
    response_head h;
    ASSERT_EQ(parse(in, h).status, parse_status::done) << in;
    EXPECT_EQ(h.framing, response_framing::none) << in;
    EXPECT_TRUE(h.keep_alive) << in;
  }
  response_head h;
  ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n", h, true).status, parse_status::done);
  EXPECT_EQ(h.framing, response_framing::none);
}

TEST(response_parser, no_length_means_until_close_and_no_keep_alive) {
  response_head h;
  ASSERT_EQ(parse("HTTP/1.1 200 OK\r\n\r\n", h).status, parse_status::done);
  EXPECT_EQ(h.framing, response_framing::until_close);
  EXPECT_FALSE(h.keep_alive);
  ASSERT_EQ(parse("HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n", h).status, parse_status::done);
  EXPECT_FALSE(h.keep_alive);
  ASSERT_EQ(parse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n", h).status, parse_status::done);
  EXPECT_TRUE(h.keep_alive);
  ASSERT_EQ(parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n", h).status, parse_status::done);
  EXPECT_FALSE(h.keep_alive);
}

TEST(response_parser, an_empty_reason_is_taken_with_or_without_its_space) {
  response_head h;
  EXPECT_EQ(parse("HTTP/1.1 200 \r\n\r\n", h).status, parse_status::done);
  EXPECT_EQ(parse("HTTP/1.1 200\r\n\r\n", h).status, parse_status::done);
  EXPECT_EQ(h.reason, "");
}

TEST(response_parser, what_the_request_parser_refuses_is_refused_here_too) {
  struct bad_case {
    const char* in;
    parse_error e;
  };
  for (const auto& c : std::initializer_list<bad_case>{
           {"HTTP/1.1 2x0 OK\r\n\r\n", parse_error::bad_status},
           {"HTTP/1.1 099 Low\r\n\r\n", parse_error::bad_status},
           {"HTTP/1.1 600 High\r\n\r\n", parse_error::bad_status},
           {"HTTP/1.1 200 OK\rX\r\n\r\n", parse_error::bad_status},
           {"HTTP/2 200 OK\r\n\r\n", parse_error::bad_version},
           {"\r\nHTTP/1.1 200 OK\r\n\r\n", parse_error::bad_version},
           {"xyz", parse_error::bad_version},
           {"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", parse_error::bad_header_name},
           {"HTTP/1.1 200 OK\r\nA: x\r\n folded\r\n\r\n", parse_error::obs_fold},
           {"HTTP/1.1 200 OK\r\nA: x\x01y\r\n\r\n", parse_error::bad_header_value},
           {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", parse_error::bad_content_length},
           {"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", parse_error::bad_content_length},
           {"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", parse_error::conflicting_framing},
           {"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", parse_error::unsupported_transfer_encoding},
           {"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", parse_error::bad_transfer_encoding},
       }) {
    response_head h;
    const auto r = parse(c.in, h);
    EXPECT_EQ(r.status, parse_status::error) << c.in;
    EXPECT_EQ(r.error, c.e) << c.in;
  }
}

TEST(response_parser, limits_bound_the_head) {
  response_head h;
  const std::string big = "HTTP/1.1 200 OK\r\nX: " + std::string(200, 'a') + "\r\n\r\n";
  EXPECT_EQ(parse(big, h, false, {.max_head_bytes = 100}).error, parse_error::header_too_large);
  EXPECT_EQ(parse(big.substr(0, 150), h, false, {.max_head_bytes = 100}).error, parse_error::header_too_large);
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\n\r\n", h, false, {.max_headers = 1}).error, parse_error::too_many_headers);
}

}  // namespace
