#include "c10k/http/parser.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parse_helpers.hpp"

using namespace c10k::http;
using namespace c10k::testing;
using namespace std::string_view_literals;

// ---------------------------------------------------------------------------------------------
// valid requests

TEST(parser, accepts_a_simple_get) {
  const std::string_view in =
      "GET /index.html?q=1 HTTP/1.1\r\n"
      "Host: example.com\r\n"
      "User-Agent: test/1.0\r\n"
      "Accept: */*\r\n"
      "\r\n";
  request_head head;
  const parse_result r = parse_request_head(in, head);
  ASSERT_EQ(r.status, parse_status::done);
  EXPECT_EQ(r.error, parse_error::none);
  EXPECT_EQ(r.consumed, in.size());
  EXPECT_EQ(head.method, "GET");
  EXPECT_EQ(head.target, "/index.html?q=1");
  EXPECT_EQ(head.version_minor, 1);
  ASSERT_EQ(head.headers.size(), 3u);
  EXPECT_EQ(head.headers[0].name, "Host");
  EXPECT_EQ(head.headers[0].value, "example.com");
  EXPECT_EQ(head.headers[1].name, "User-Agent");
  EXPECT_EQ(head.headers[1].value, "test/1.0");
  EXPECT_EQ(head.headers[2].name, "Accept");
  EXPECT_EQ(head.headers[2].value, "*/*");
  EXPECT_EQ(head.host, "example.com");
  EXPECT_TRUE(head.keep_alive);
  EXPECT_FALSE(head.expect_continue);
  EXPECT_EQ(head.framing, body_framing::none);
  // The views point into the caller's buffer: no copies.
  EXPECT_EQ(head.method.data(), in.data());
}

TEST(parser, trims_optional_whitespace_around_header_values) {
  const std::string in = request_with("Host: h\r\nX-A: \t  spaced  value \t \r\nX-Empty:\r\nX-Blank:   \r\n");
  request_head head;
  ASSERT_EQ(parse_request_head(in, head).status, parse_status::done);
  ASSERT_EQ(head.headers.size(), 4u);
  EXPECT_EQ(head.headers[1].value, "spaced  value");
  EXPECT_EQ(head.headers[2].value, "");
  EXPECT_EQ(head.headers[3].value, "");
}

TEST(parser, accepts_obs_text_in_header_values) {
  const std::string in = request_with("Host: h\r\nX-Name: caf\xc3\xa9\r\n");
  request_head head;
  ASSERT_EQ(parse_request_head(in, head).status, parse_status::done);
  EXPECT_EQ(head.headers[1].value, "caf\xc3\xa9");
}

TEST(parser, closes_http10_without_keep_alive) {
  const std::string_view in = "GET / HTTP/1.0\r\n\r\n";
  request_head head;
  const parse_result r = parse_request_head(in, head);
  ASSERT_EQ(r.status, parse_status::done);
  EXPECT_EQ(r.consumed, in.size());
  EXPECT_EQ(head.version_minor, 0);
  EXPECT_FALSE(head.keep_alive);
  EXPECT_TRUE(head.host.empty());
}

TEST(parser, keeps_http10_alive_with_connection_keep_alive) {
  request_head head;
  ASSERT_EQ(parse_request_head("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", head).status, parse_status::done);
  EXPECT_EQ(head.version_minor, 0);
  EXPECT_TRUE(head.keep_alive);
}

TEST(parser, closes_http11_with_connection_close_in_a_token_list) {
  request_head head;
  ASSERT_EQ(parse_request_head(request_with("Host: h\r\nConnection: Upgrade ,  CLOSE\r\n"), head).status,
            parse_status::done);
  EXPECT_FALSE(head.keep_alive);
  // close wins over keep-alive when both are given
  ASSERT_EQ(parse_request_head("GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", head).status,
            parse_status::done);
  EXPECT_FALSE(head.keep_alive);
}

TEST(parser, reads_a_post_with_content_length) {
  const std::string in = request_with("Host: h\r\nContent-Length: 13\r\n", "POST /submit HTTP/1.1\r\n") + "hello, world!";
  request_head head;
  const parse_result r = parse_request_head(in, head);
  ASSERT_EQ(r.status, parse_status::done);
  EXPECT_EQ(r.consumed, in.size() - 13);
  EXPECT_EQ(head.method, "POST");
  EXPECT_EQ(head.framing, body_framing::content_length);
  EXPECT_EQ(head.content_length, 13u);
}

TEST(parser, accepts_repeated_identical_content_lengths) {
  request_head head;
  ASSERT_EQ(parse_request_head(request_with("Host: h\r\nContent-Length: 5\r\nContent-Length: 005 , 5\r\n"), head).status,
            parse_status::done);
  EXPECT_EQ(head.framing, body_framing::content_length);
  EXPECT_EQ(head.content_length, 5u);
}

TEST(parser, accepts_the_largest_content_length) {
  request_head head;
  ASSERT_EQ(parse_request_head(request_with("Host: h\r\nContent-Length: 18446744073709551615\r\n"), head).status,
            parse_status::done);
  EXPECT_EQ(head.content_length, UINT64_MAX);
}

TEST(parser, reads_a_chunked_post) {
  request_head head;
  ASSERT_EQ(parse_request_head(request_with("Host: h\r\nTransfer-Encoding: CHUNKED\r\n", "POST / HTTP/1.1\r\n"), head).status,
            parse_status::done);
  EXPECT_EQ(head.framing, body_framing::chunked);
  EXPECT_EQ(head.content_length, 0u);
}

TEST(parser, accepts_an_absolute_form_target_and_takes_its_host) {
  const std::string in = request_with("Host: ignored.example\r\n", "GET http://example.com:8080/a?b HTTP/1.1\r\n");
  request_head head;
  ASSERT_EQ(parse_request_head(in, head).status, parse_status::done);
  EXPECT_EQ(head.target, "http://example.com:8080/a?b");
  EXPECT_EQ(head.host, "example.com:8080");
  const std::string no_path = request_with("Host: x\r\n", "GET HTTPS://example.com HTTP/1.1\r\n");
  ASSERT_EQ(parse_request_head(no_path, head).status, parse_status::done);
  EXPECT_EQ(head.host, "example.com");
}

TEST(parser, accepts_options_asterisk) {
  const std::string in = request_with("Host: h\r\n", "OPTIONS * HTTP/1.1\r\n");
  request_head head;
  ASSERT_EQ(parse_request_head(in, head).status, parse_status::done);
  EXPECT_EQ(head.method, "OPTIONS");
  EXPECT_EQ(head.target, "*");
}

TEST(parser, accepts_connect_with_an_authority_target) {
  const std::string in = request_with("Host: example.com:443\r\n", "CONNECT example.com:443 HTTP/1.1\r\n");
  request_head head;
  ASSERT_EQ(parse_request_head(in, head).status, parse_status::done);
  EXPECT_EQ(head.target, "example.com:443");
  ASSERT_EQ(parse_request_head(request_with("Host: [::1]:8443\r\n", "CONNECT [::1]:8443 HTTP/1.1\r\n"), head).status,
            parse_status::done);
}

TEST(parser, skips_leading_empty_lines_and_counts_them_as_consumed) {
  const std::string in = "\r\n\n\r\n" + request_with("Host: h\r\n");
  request_head head;
  const parse_result r = parse_request_head(in, head);
  ASSERT_EQ(r.status, parse_status::done);
  EXPECT_EQ(r.consumed, in.size());
  EXPECT_EQ(head.method, "GET");
}

TEST(parser, accepts_bare_lf_line_endings) {
  const std::string_view in = "GET /x HTTP/1.1\nHost: h\nX-A: b \n\n";
  request_head head;
  const parse_result r = parse_request_head(in, head);
  ASSERT_EQ(r.status, parse_status::done);
  EXPECT_EQ(r.consumed, in.size());
  ASSERT_EQ(head.headers.size(), 2u);
  EXPECT_EQ(head.headers[1].value, "b");
}

TEST(parser, looks_up_headers_case_insensitively) {
  const std::string in = request_with("host: h\r\nX-Thing: one\r\nx-thing: two\r\nX-Empty:\r\n");
  request_head head;
  ASSERT_EQ(parse_request_head(in, head).status, parse_status::done);
  EXPECT_EQ(head.header("HOST"), "h");
  EXPECT_EQ(head.header("x-THING"), "one");  // the first one
  ASSERT_TRUE(head.header("x-empty").has_value());
  EXPECT_EQ(*head.header("x-empty"), "");
  EXPECT_FALSE(head.header("x-missing").has_value());
  EXPECT_FALSE(head.header("x-thin").has_value());
}

TEST(parser, flags_expect_100_continue_only_for_http11) {
  request_head head;
  ASSERT_EQ(parse_request_head(request_with("Host: h\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n"), head).status,
            parse_status::done);
  EXPECT_TRUE(head.expect_continue);
  ASSERT_EQ(parse_request_head("POST / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n", head).status, parse_status::done);
  EXPECT_FALSE(head.expect_continue);
  ASSERT_EQ(parse_request_head(request_with("Host: h\r\nExpect: something-else\r\n"), head).status, parse_status::done);
  EXPECT_FALSE(head.expect_continue);
}

TEST(parser, flags_an_expectation_it_cannot_meet_only_for_http11) {
  request_head head;
  ASSERT_EQ(parse_request_head(request_with("Host: h\r\nExpect: something-else\r\n"), head).status, parse_status::done);
  EXPECT_TRUE(head.expectation_unmet);
  ASSERT_EQ(parse_request_head(request_with("Host: h\r\nExpect: 100-continue\r\n"), head).status, parse_status::done);
  EXPECT_FALSE(head.expectation_unmet);
  ASSERT_EQ(parse_request_head(request_with("Host: h\r\n"), head).status, parse_status::done);
  EXPECT_FALSE(head.expectation_unmet);
  ASSERT_EQ(parse_request_head("POST / HTTP/1.0\r\nExpect: something-else\r\n\r\n", head).status, parse_status::done);
  EXPECT_FALSE(head.expectation_unmet);
}

TEST(parser, stops_at_the_end_of_the_first_of_two_pipelined_requests) {
  const std::string first = request_with("Host: a\r\n", "GET /one HTTP/1.1\r\n");
  const std::string second = request_with("Host: b\r\n", "GET /two HTTP/1.1\r\n");
  const std::string in = first + second;
  request_head head;
  parse_result r = parse_request_head(in, head);
  ASSERT_EQ(r.status, parse_status::done);
  EXPECT_EQ(r.consumed, first.size());
  EXPECT_EQ(head.target, "/one");
  r = parse_request_head(std::string_view(in).substr(r.consumed), head);
  ASSERT_EQ(r.status, parse_status::done);
  EXPECT_EQ(r.consumed, second.size());
  EXPECT_EQ(head.target, "/two");
  EXPECT_EQ(head.host, "b");
}

TEST(parser, never_parses_bytes_after_the_blank_line) {
  const std::string head_bytes = request_with("Host: h\r\n");
  const std::string in = head_bytes + std::string("\0\x01\r garbage \x7f\xff"sv);
  request_head head;
  const parse_result r = parse_request_head(in, head);
  ASSERT_EQ(r.status, parse_status::done);
  EXPECT_EQ(r.consumed, head_bytes.size());
}

TEST(parser, reuses_the_request_head_and_resets_every_field) {
  request_head head;
  ASSERT_EQ(parse_request_head(request_with("Host: a\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\nX: y\r\n"),
                               head)
                .status,
            parse_status::done);
  const std::size_t capacity = head.headers.capacity();
  ASSERT_EQ(parse_request_head("GET / HTTP/1.0\r\n\r\n", head).status, parse_status::done);
  EXPECT_TRUE(head.headers.empty());
  EXPECT_EQ(head.headers.capacity(), capacity);
  EXPECT_EQ(head.framing, body_framing::none);
  EXPECT_EQ(head.content_length, 0u);
  EXPECT_FALSE(head.expect_continue);
  EXPECT_TRUE(head.host.empty());
  EXPECT_EQ(head.version_minor, 0);
}

TEST(parser, accepts_a_head_exactly_at_the_size_limit) {
  const std::string in = request_with("Host: h\r\n");
  parse_limits limits;
  limits.max_head_bytes = in.size();
  EXPECT_EQ(status_of(in, limits), parse_status::done);
  limits.max_head_bytes = in.size() - 1;
  EXPECT_EQ(error_of(in, limits), parse_error::header_too_large);
}

TEST(parser, accepts_exactly_max_headers_and_max_target_bytes) {
  parse_limits limits;
  limits.max_headers = 2;
  limits.max_target_bytes = 8;
  EXPECT_EQ(status_of(request_with("Host: h\r\nX: y\r\n", "GET /2345678 HTTP/1.1\r\n"), limits), parse_status::done);
}

// ---------------------------------------------------------------------------------------------
// incremental input

TEST(parser, reports_incomplete_for_every_proper_prefix_and_done_for_the_whole) {
  const std::string requests[] = {
      "\r\nPOST /upload?x=1 HTTP/1.1\r\n"
      "Host: example.com:8080\r\n"
      "Content-Length: 5\r\n"
      "Connection: keep-alive\r\n"
      "X-Empty:\r\n"
      "X-Spaces:   a b   \r\n"
      "\r\n",
      "GET / HTTP/1.0\nUser-Agent: x\n\n",
      "OPTIONS * HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n",
  };
  for (const std::string& in : requests) {
    for (std::size_t k = 0; k < in.size(); ++k) {
      request_head head;
      const parse_result r = parse_exact_copy(std::string_view(in).substr(0, k), head);
      EXPECT_EQ(r.status, parse_status::incomplete) << "prefix length " << k << " of " << in;
      EXPECT_EQ(r.consumed, 0u);
    }
    request_head head;
    const parse_result r = parse_request_head(in, head);
    EXPECT_EQ(r.status, parse_status::done) << in;
    EXPECT_EQ(r.consumed, in.size());
  }
}

TEST(parser, never_reads_past_its_input) {
  const std::string inputs[] = {
      request_with("Host: h\r\nContent-Length: 5\r\n"),
      "GET / HTTP/1.1\r",
      "GET / HTTP/1.1\r\nHost: h\r",
      "GET / HTTP/1.1\r\nHost: h\r\n\r",
      "\r",
      "GET http://a",
      "GET / HTTP/2.0\r\n",
      "GET / HTTP/1.1\r\nHost: h\r\nX\x01: y\r\n\r\n",
      "CONNECT a:1 HTTP/1.1\r\nHost: a:1\r\nTransfer-Encoding: gzip\r\n\r\n",
  };
  for (const std::string& in : inputs)
    for (std::size_t k = 0; k <= in.size(); ++k) {
      request_head head;
      (void)parse_exact_copy(std::string_view(in).substr(0, k), head);
    }
}
