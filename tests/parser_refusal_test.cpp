// The request-head parser's refusals: every malformed, oversized or unsupported head gets its
// error (and so its status code), wherever in the input the bad byte sits; and each error's
// status and phrase. (The heads it accepts are in parser_test.cpp.)
#include "c10k/http/parser.hpp"

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "parse_helpers.hpp"

using namespace c10k::http;
using namespace c10k::testing;
using namespace std::string_view_literals;

namespace {

constexpr parse_error all_errors[] = {
    parse_error::none,
    parse_error::bad_method,
    parse_error::bad_target,
    parse_error::bad_version,
    parse_error::version_not_supported,
    parse_error::bad_header_name,
    parse_error::bad_header_value,
    parse_error::obs_fold,
    parse_error::missing_host,
    parse_error::duplicate_host,
    parse_error::bad_host,
    parse_error::header_too_large,
    parse_error::too_many_headers,
    parse_error::target_too_long,
    parse_error::bad_content_length,
    parse_error::conflicting_framing,
    parse_error::bad_transfer_encoding,
    parse_error::unsupported_transfer_encoding,
    parse_error::bad_chunk,
    parse_error::body_too_large,
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// invalid requests

TEST(parser, rejects_a_bad_method) {
  EXPECT_EQ(error_of("G@T / HTTP/1.1\r\n"), parse_error::bad_method);
  EXPECT_EQ(error_of(" GET / HTTP/1.1\r\n"), parse_error::bad_method);
  EXPECT_EQ(error_of("GET\t/ HTTP/1.1\r\n"), parse_error::bad_method);
  EXPECT_EQ(error_of("GET\r\n"), parse_error::bad_method);
  EXPECT_EQ(error_of("\rGET / HTTP/1.1\r\n"), parse_error::bad_method);  // bare CR before the request line
  EXPECT_EQ(error_of("G\x80T"), parse_error::bad_method);                 // decided before the line ends
}

TEST(parser, rejects_a_bad_target) {
  EXPECT_EQ(error_of("GET  / HTTP/1.1\r\n"), parse_error::bad_target);  // two spaces
  EXPECT_EQ(error_of("GET /a\x01z HTTP/1.1\r\n"), parse_error::bad_target);
  EXPECT_EQ(error_of("GET /a\x7fz HTTP/1.1\r\n"), parse_error::bad_target);
  EXPECT_EQ(error_of("GET /caf\xc3\xa9 HTTP/1.1\r\n"), parse_error::bad_target);
  EXPECT_EQ(error_of("GET \r\n"), parse_error::bad_target);
  EXPECT_EQ(error_of("GET /a\tb HTTP/1.1\r\n"), parse_error::bad_target);
  EXPECT_EQ(error_of("GET * HTTP/1.1\r\n"), parse_error::bad_target);  // asterisk only for OPTIONS
  EXPECT_EQ(error_of("OPTIONS *x HTTP/1.1\r\n"), parse_error::bad_target);
  EXPECT_EQ(error_of("GET example.com:80 HTTP/1.1\r\n"), parse_error::bad_target);  // authority only for CONNECT
  EXPECT_EQ(error_of("CONNECT /path HTTP/1.1\r\n"), parse_error::bad_target);
  EXPECT_EQ(error_of("CONNECT example.com HTTP/1.1\r\n"), parse_error::bad_target);  // no port
  EXPECT_EQ(error_of("CONNECT example.com:x HTTP/1.1\r\n"), parse_error::bad_target);
  EXPECT_EQ(error_of("CONNECT user@example.com:443 HTTP/1.1\r\n"), parse_error::bad_target);
  EXPECT_EQ(error_of("CONNECT example.com: HTTP/1.1\r\n"), parse_error::bad_target);
  EXPECT_EQ(error_of("CONNECT :443 HTTP/1.1\r\n"), parse_error::bad_target);
  EXPECT_EQ(error_of("GET index.html HTTP/1.1\r\n"), parse_error::bad_target);
  EXPECT_EQ(error_of("GET ftp://example.com/ HTTP/1.1\r\n"), parse_error::bad_target);
  EXPECT_EQ(error_of("GET http:///path HTTP/1.1\r\n"), parse_error::bad_target);  // empty authority
  EXPECT_EQ(error_of("GET http://user:pw@example.com/ HTTP/1.1\r\n"), parse_error::bad_target);
}

TEST(parser, rejects_a_bad_version) {
  EXPECT_EQ(error_of("GET / HTTP/1.01\r\n"), parse_error::bad_version);
  EXPECT_EQ(error_of("GET / http/1.1\r\n"), parse_error::bad_version);
  EXPECT_EQ(error_of("GET / HTTP/1.\r\n"), parse_error::bad_version);
  EXPECT_EQ(error_of("GET / HTTP/1.2\r\n"), parse_error::bad_version);  // 1.x with x > 1 is refused
  EXPECT_EQ(error_of("GET / HTTP/0.9\r\n"), parse_error::bad_version);
  EXPECT_EQ(error_of("GET / HTTP/1.1 \r\n"), parse_error::bad_version);
  EXPECT_EQ(error_of("GET / HTTP/1.1\rX"), parse_error::bad_version);  // bare CR
  EXPECT_EQ(error_of("GET / HTTP/20.0\r\n"), parse_error::bad_version);
  EXPECT_EQ(error_of("GET /\r\n"), parse_error::bad_version);  // HTTP/0.9 request line
  EXPECT_EQ(error_of("GET / \r\n"), parse_error::bad_version);
  EXPECT_EQ(error_of("GET /a\rb HTTP/1.1\r\n"), parse_error::bad_version);  // bare CR ends the line early
  EXPECT_EQ(error_of("GET /a\r"), parse_error::bad_version);                  // decided without the next byte
  EXPECT_EQ(error_of("GET / XTTP"), parse_error::bad_version);  // decided before the line ends
  EXPECT_EQ(error_of("GET / HTTP/1.1HTTP/1.1"), parse_error::bad_version);
}

TEST(parser, rejects_http2_and_later_as_not_supported) {
  EXPECT_EQ(error_of("GET / HTTP/2.0\r\n"), parse_error::version_not_supported);
  EXPECT_EQ(error_of("GET / HTTP/3.0\r\n"), parse_error::version_not_supported);
  EXPECT_EQ(error_of("GET / HTTP/2\r\n"), parse_error::version_not_supported);
}

// Found by the fuzzer: the status must not depend on where a read ends. "HTTP/2.0" alone is
// a valid prefix (of "HTTP/2.0\r\n", a 505) and of "HTTP/2.0x" (a 400): it waits for more.
TEST(parser, a_version_that_ends_the_input_waits_for_the_next_byte) {
  request_head head;
  EXPECT_EQ(parse_request_head("GET / HTTP/2.0", head).status, parse_status::incomplete);
  EXPECT_EQ(error_of("GET / HTTP/2.0x"), parse_error::bad_version);
  EXPECT_EQ(error_of("GET / HTTP/2.0x\r\nHost: a\r\n\r\n"), parse_error::bad_version);
}

TEST(parser, rejects_a_bad_header_name) {
  EXPECT_EQ(error_of(request_with("Host : h\r\n")), parse_error::bad_header_name);  // space before colon
  EXPECT_EQ(error_of(request_with("Host\t: h\r\n")), parse_error::bad_header_name);
  EXPECT_EQ(error_of(request_with(": h\r\n")), parse_error::bad_header_name);
  EXPECT_EQ(error_of(request_with("Ho(st: h\r\n")), parse_error::bad_header_name);
  EXPECT_EQ(error_of(request_with("Host\r\n")), parse_error::bad_header_name);  // no colon
  EXPECT_EQ(error_of(request_with("X\x01: y\r\n")), parse_error::bad_header_name);
  EXPECT_EQ(error_of(request_with(" Host: h\r\n")), parse_error::bad_header_name);  // whitespace after request line
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: h\r\n\rX"), parse_error::bad_header_name);  // bare CR at line start
}

TEST(parser, rejects_a_bad_header_value) {
  EXPECT_EQ(error_of(request_with(std::string("Host: h\r\nX: a\0b\r\n"sv))), parse_error::bad_header_value);
  EXPECT_EQ(error_of(request_with("Host: h\r\nX: a\x01z\r\n")), parse_error::bad_header_value);
  EXPECT_EQ(error_of(request_with("Host: h\r\nX: a\x7fz\r\n")), parse_error::bad_header_value);
  EXPECT_EQ(error_of(request_with("Host: h\r\nX: a\rb\r\n")), parse_error::bad_header_value);  // bare CR
  EXPECT_EQ(error_of(request_with("Host: h\r\nX: a\r\r\n")), parse_error::bad_header_value);
}

TEST(parser, finds_a_bad_byte_at_any_position_of_a_long_value_or_target) {
  const std::string clean(40, 'v');
  for (std::size_t k = 0; k < clean.size(); ++k) {
    for (const char bad : {'\x00', '\x01', '\x1f', '\x7f', '\r', '\n'}) {
      std::string value = clean;
      value[k] = bad;
      std::string line = "X: " + value + "z\r\n";
      const parse_error e = error_of(request_with("Host: h\r\n" + line));
      // A LF ends the line early, leaving "vvv..z" as a field line without a colon.
      EXPECT_EQ(e, bad == '\n' ? parse_error::bad_header_name : parse_error::bad_header_value) << k << ' ' << int(bad);
      std::string target = "/" + clean;
      target[k + 1] = bad;
      const parse_error te = error_of("GET " + target + " HTTP/1.1\r\nHost: h\r\n\r\n");
      EXPECT_EQ(te, bad == '\r' || bad == '\n' ? parse_error::bad_version : parse_error::bad_target) << k << ' ' << int(bad);
    }
    for (const char ok : {'\t', ' ', '\x80', '\xff'}) {
      std::string value = clean;
      value[k] = ok;
      EXPECT_EQ(status_of(request_with("Host: h\r\nX: " + value + "\r\n")), parse_status::done) << k << ' ' << int(ok);
    }
    std::string target = "/" + clean;
    target[k + 1] = '\x80';
    EXPECT_EQ(error_of("GET " + target + " HTTP/1.1\r\n"), parse_error::bad_target) << k;
  }
}

TEST(parser, rejects_obsolete_line_folding) {
  EXPECT_EQ(error_of(request_with("Host: h\r\nX: a\r\n  continued\r\n")), parse_error::obs_fold);
  EXPECT_EQ(error_of(request_with("Host: h\r\nX: a\r\n\tcontinued\r\n")), parse_error::obs_fold);
}

TEST(parser, rejects_http11_without_host) {
  EXPECT_EQ(error_of(request_with("X: y\r\n")), parse_error::missing_host);
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\n\r\n"), parse_error::missing_host);
}

TEST(parser, accepts_an_empty_host) {
  request_head head;
  ASSERT_EQ(parse_request_head(request_with("Host:\r\n"), head).status, parse_status::done);
  EXPECT_TRUE(head.host.empty());
}

TEST(parser, accepts_hosts_with_ports_and_ip_literals) {
  for (const char* value : {"example.com", "example.com:8080", "example.com:", "127.0.0.1:80", "[::1]", "[::1]:443",
                            "xn--caf-dma.example", "a_b~c%41"})
    EXPECT_EQ(status_of(request_with(std::string("Host: ") + value + "\r\n")), parse_status::done) << value;
}

TEST(parser, rejects_two_hosts) {
  EXPECT_EQ(error_of(request_with("Host: a\r\nHOST: a\r\n")), parse_error::duplicate_host);
  EXPECT_EQ(error_of("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), parse_error::duplicate_host);
}

TEST(parser, rejects_a_bad_host) {
  for (const char* value : {"a/b", "a?b", "a#b", "user@a", "a b", "a\tb", "a\\b", "caf\xc3\xa9", "a\"b", "a:b", "a:1:2",
                            "a:123456", "a:65536", ":80", "[::1", "[::1]x", "[]", "[a/b]"})
    EXPECT_EQ(error_of(request_with(std::string("Host: ") + value + "\r\n")), parse_error::bad_host) << value;
}

TEST(parser, rejects_a_head_larger_than_the_limit) {
  parse_limits limits;
  limits.max_head_bytes = 32;
  // Decided as soon as the input passes the limit, without waiting for the head's end.
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: h\r\nX-Long: aaaaaaaaaaaa", limits), parse_error::header_too_large);
  EXPECT_EQ(error_of(std::string(33, '\n'), limits), parse_error::header_too_large);
  EXPECT_EQ(status_of("GET / HTTP/1.1\r\nHost: h\r\nX: aaaa", limits), parse_status::incomplete);  // 32 bytes
  EXPECT_EQ(error_of(request_with("Host: h\r\n" + std::string(70 * 1024, 'a') + ": b\r\n")), parse_error::header_too_large);
}

TEST(parser, rejects_too_many_headers) {
  parse_limits limits;
  limits.max_headers = 2;
  EXPECT_EQ(error_of(request_with("Host: h\r\nA: 1\r\nB: 2\r\n"), limits), parse_error::too_many_headers);
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nHost: h\r\nA: 1\r\nB", limits), parse_error::too_many_headers);
  std::string many = "Host: h\r\n";
  for (int k = 0; k < 100; ++k) many += "X: y\r\n";
  EXPECT_EQ(error_of(request_with(many)), parse_error::too_many_headers);
}

TEST(parser, rejects_a_target_longer_than_the_limit) {
  parse_limits limits;
  limits.max_target_bytes = 8;
  EXPECT_EQ(error_of("GET /23456789 HTTP/1.1\r\n", limits), parse_error::target_too_long);
  EXPECT_EQ(error_of("GET /23456789", limits), parse_error::target_too_long);  // before the line ends
  EXPECT_EQ(status_of("GET /2345678", limits), parse_status::incomplete);
  EXPECT_EQ(error_of("GET /" + std::string(9000, 'a')), parse_error::target_too_long);
}

TEST(parser, rejects_a_bad_content_length) {
  for (const char* value : {"-1", "+1", "1 2", "", "abc", "0x10", "1.0", "18446744073709551616",
                            "99999999999999999999999", "1,2", "1,,1", ",1", "1,"})
    EXPECT_EQ(error_of(request_with(std::string("Host: h\r\nContent-Length: ") + value + "\r\n")),
              parse_error::bad_content_length)
        << value;
  EXPECT_EQ(error_of(request_with("Host: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n")),
            parse_error::bad_content_length);
}

TEST(parser, rejects_transfer_encoding_with_content_length) {
  EXPECT_EQ(error_of(request_with("Host: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n")),
            parse_error::conflicting_framing);
  EXPECT_EQ(error_of(request_with("Host: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n")),
            parse_error::conflicting_framing);
}

TEST(parser, rejects_a_malformed_transfer_encoding) {
  for (const char* value : {"chunked, chunked", "chunked,", ",chunked", "", "chunked;q=1", "chunked x", "@"})
    EXPECT_EQ(error_of(request_with(std::string("Host: h\r\nTransfer-Encoding: ") + value + "\r\n")),
              parse_error::bad_transfer_encoding)
        << value;
  EXPECT_EQ(error_of(request_with("Host: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n")),
            parse_error::bad_transfer_encoding);
  EXPECT_EQ(error_of("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), parse_error::bad_transfer_encoding);
}

TEST(parser, rejects_transfer_codings_other_than_chunked_as_unsupported) {
  for (const char* value : {"gzip", "chunked, gzip", "gzip, chunked", "identity", "x-custom;p=1"})
    EXPECT_EQ(error_of(request_with(std::string("Host: h\r\nTransfer-Encoding: ") + value + "\r\n")),
              parse_error::unsupported_transfer_encoding)
        << value;
  EXPECT_EQ(error_of(request_with("Host: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n")),
            parse_error::unsupported_transfer_encoding);
}

TEST(parser, accepts_transfer_encoding_spread_over_a_list_with_whitespace) {
  request_head head;
  ASSERT_EQ(parse_request_head(request_with("Host: h\r\nTransfer-Encoding:  \t Chunked \t \r\n"), head).status,
            parse_status::done);
  EXPECT_EQ(head.framing, body_framing::chunked);
}

// ---------------------------------------------------------------------------------------------
// error reporting

TEST(parser, maps_each_error_to_its_status_code) {
  EXPECT_EQ(status_for(parse_error::version_not_supported), 505);
  EXPECT_EQ(status_for(parse_error::header_too_large), 431);
  EXPECT_EQ(status_for(parse_error::too_many_headers), 431);
  EXPECT_EQ(status_for(parse_error::target_too_long), 414);
  EXPECT_EQ(status_for(parse_error::body_too_large), 413);
  EXPECT_EQ(status_for(parse_error::unsupported_transfer_encoding), 501);
  for (const parse_error e :
       {parse_error::bad_method, parse_error::bad_target, parse_error::bad_version, parse_error::bad_header_name,
        parse_error::bad_header_value, parse_error::obs_fold, parse_error::missing_host, parse_error::duplicate_host,
        parse_error::bad_host, parse_error::bad_content_length, parse_error::conflicting_framing,
        parse_error::bad_transfer_encoding, parse_error::bad_chunk})
    EXPECT_EQ(status_for(e), 400) << to_string(e);
}

TEST(parser, names_every_error_with_a_distinct_phrase) {
  std::vector<std::string_view> seen;
  for (const parse_error e : all_errors) {
    const std::string_view s = to_string(e);
    EXPECT_FALSE(s.empty());
    for (const std::string_view other : seen) EXPECT_NE(s, other);
    seen.push_back(s);
  }
  EXPECT_EQ(to_string(parse_error::bad_method), "bad request line");
}
