// The framing headers are found whatever their case, in requests and responses alike, and a
// name that differs from one in any byte (its last, one that only looks alike once folded) is
// an ordinary header: the word-at-a-time comparison (header_rules.hpp) against the parsers'
// literals.
#include <gtest/gtest.h>

#include <string>

#include "c10k/http/parser.hpp"
#include "c10k/http/response_parser.hpp"

using namespace c10k::http;

namespace {

response_framing framing_of(const std::string& fields) {
  response_head h;
  const std::string in = "HTTP/1.1 200 OK\r\n" + fields + "\r\n";
  const parse_result r = parse_response_head(in, h, false, {});
  EXPECT_EQ(r.status, parse_status::done) << fields;
  return h.framing;
}

}  // namespace

TEST(header_case, framing_names_match_in_any_case) {
  for (const char* name : {"Content-Length", "content-length", "CONTENT-LENGTH", "cOnTeNt-LeNgTh"})
    EXPECT_EQ(framing_of(std::string(name) + ": 3\r\n"), response_framing::content_length) << name;
  for (const char* name : {"Transfer-Encoding", "TRANSFER-ENCODING", "transfer-encodinG"})
    EXPECT_EQ(framing_of(std::string(name) + ": chunked\r\n"), response_framing::chunked) << name;
  for (const char* value : {"close", "CLOSE", "Close"}) {
    response_head h;
    const std::string in = std::string("HTTP/1.1 200 OK\r\nCONNECTION: ") + value + "\r\nContent-Length: 0\r\n\r\n";
    ASSERT_EQ(parse_response_head(in, h, false, {}).status, parse_status::done);
    EXPECT_FALSE(h.keep_alive) << value;
  }
}

TEST(header_case, names_that_differ_in_one_byte_are_other_headers) {
  // Same length as the framing names; each differs in one byte: the first, the last (in the
  // word that overlaps the one before it), one in the middle, '-' against '_' and '.' (no
  // folding may turn another token byte into '-').
  for (const char* name : {"Xontent-Length", "Content-Lengtx", "Content_Length", "Content.Length", "Content-Lenhth",
                           "Transfer-Encodinf", "Transfer_Encoding", "Xransfer-Encoding"})
    EXPECT_EQ(framing_of(std::string(name) + ": 3\r\n"), response_framing::until_close) << name;
}

TEST(header_case, request_names_and_targets_match_in_any_case) {
  request_head h;
  const std::string in = "POST HTTP://Example.com/x HTTP/1.1\r\nHOST: example.com\r\nEXPECT: 100-CONTINUE\r\ncontent-LENGTH: 2\r\n\r\n";
  ASSERT_EQ(parse_request_head(in, h).status, parse_status::done);
  EXPECT_EQ(h.framing, body_framing::content_length);
  EXPECT_EQ(h.content_length, 2u);
  EXPECT_TRUE(h.expect_continue);
  EXPECT_EQ(h.host, "Example.com");
}

TEST(header_case, header_name_is_folds_case_only) {
  EXPECT_TRUE(header_name_is("Proxy-Authorization", "proxy-authorization"));
  EXPECT_TRUE(header_name_is("TE", "te"));
  EXPECT_TRUE(header_name_is("X-FORWARDED-FOR", "x-forwarded-for"));
  EXPECT_FALSE(header_name_is("X-Forwarded-Fox", "x-forwarded-for"));
  EXPECT_FALSE(header_name_is("X_Forwarded-For", "x-forwarded-for"));
  EXPECT_FALSE(header_name_is("Proxy-Authorizatio", "proxy-authorization"));
  EXPECT_FALSE(header_name_is("", "te"));
  EXPECT_TRUE(header_name_is("", ""));
}
