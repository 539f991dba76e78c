// The chunked decoder (RFC 9112 section 7.1): whole and split bodies, malformed chunks, limits.
#include "c10k/http/parser.hpp"

#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

using namespace c10k::http;
using namespace std::string_view_literals;

namespace {

// Decodes `body` fed in the given pieces and returns what came out; `consumed_total` gets the
// number of bytes the decoder took.
struct decode_outcome {
  parse_status status;
  parse_error error;
  std::string data;
  std::size_t consumed_total;
};

decode_outcome decode_pieces(const std::vector<std::string>& pieces, std::uint64_t max_body = UINT64_MAX) {
  chunked_decoder decoder;
  decode_outcome o{parse_status::incomplete, parse_error::none, {}, 0};
  for (const std::string& piece : pieces) {
    auto buf = std::make_unique<char[]>(piece.size());
    if (!piece.empty()) std::memcpy(buf.get(), piece.data(), piece.size());
    const parse_result r = decoder.decode(std::string_view(buf.get(), piece.size()), o.data, max_body);
    o.consumed_total += r.consumed;
    o.status = r.status;
    o.error = r.error;
    if (r.status != parse_status::incomplete) break;
    EXPECT_EQ(r.consumed, piece.size());
  }
  return o;
}

decode_outcome decode_whole(std::string_view body, std::uint64_t max_body = UINT64_MAX) {
  return decode_pieces({std::string(body)}, max_body);
}

parse_error chunk_error_of(std::string_view body, std::uint64_t max_body = UINT64_MAX) {
  const decode_outcome o = decode_whole(body, max_body);
  return o.status == parse_status::error ? o.error : parse_error::none;
}

}  // namespace


TEST(chunked_decoder, decodes_a_simple_body_and_stops_at_its_end) {
  const std::string body = "5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n";
  const std::string in = body + "GET / HTTP/1.1\r\n";
  chunked_decoder decoder;
  std::string out;
  const parse_result r = decoder.decode(in, out);
  ASSERT_EQ(r.status, parse_status::done);
  EXPECT_EQ(r.consumed, body.size());
  EXPECT_EQ(out, "hello, world");
  // Once done, it consumes nothing more.
  EXPECT_EQ(decoder.decode("x", out).status, parse_status::done);
  EXPECT_EQ(decoder.decode("x", out).consumed, 0u);
}

TEST(chunked_decoder, decodes_hex_sizes_in_either_case) {
  const std::string data(0x1aF, 'z');
  const decode_outcome o = decode_whole("1aF\r\n" + data + "\r\n0000\r\n\r\n");
  ASSERT_EQ(o.status, parse_status::done);
  EXPECT_EQ(o.data, data);
}

TEST(chunked_decoder, decodes_an_empty_body) {
  const decode_outcome o = decode_whole("0\r\n\r\n");
  ASSERT_EQ(o.status, parse_status::done);
  EXPECT_TRUE(o.data.empty());
  EXPECT_EQ(o.consumed_total, 5u);
}

TEST(chunked_decoder, gives_the_same_data_one_byte_at_a_time_and_at_every_split) {
  const std::string body =
      "4;name=value;other=\"quoted; \\\"string\"\r\n"
      "Wiki\r\n"
      "5 ; ext\r\n"
      "pedia\r\n"
      "E\r\n"
      " in\r\n\r\nchunks.\r\n"
      "0;last\r\n"
      "Expires: Sat, 27 Mar 2004 21:12:00 GMT\r\n"
      "X-Trailer:\r\n"
      "\r\n";
  const std::string expected = "Wikipedia in\r\n\r\nchunks.";
  const std::string next = "GET /next HTTP/1.1\r\n";

  std::vector<std::string> bytes;
  for (const char c : body + next) bytes.emplace_back(1, c);
  decode_outcome o = decode_pieces(bytes);
  ASSERT_EQ(o.status, parse_status::done);
  EXPECT_EQ(o.data, expected);
  EXPECT_EQ(o.consumed_total, body.size());

  const std::string all = body + next;
  for (std::size_t k = 0; k <= all.size(); ++k) {
    o = decode_pieces({all.substr(0, k), all.substr(k)});
    ASSERT_EQ(o.status, parse_status::done) << "split at " << k;
    EXPECT_EQ(o.data, expected) << "split at " << k;
    EXPECT_EQ(o.consumed_total, body.size()) << "split at " << k;
  }
}

TEST(chunked_decoder, reports_incomplete_having_used_all_its_input) {
  chunked_decoder decoder;
  std::string out;
  parse_result r = decoder.decode("A\r\n01234", out);
  EXPECT_EQ(r.status, parse_status::incomplete);
  EXPECT_EQ(r.consumed, 8u);
  r = decoder.decode("", out);
  EXPECT_EQ(r.status, parse_status::incomplete);
  EXPECT_EQ(r.consumed, 0u);
  r = decoder.decode("56789\r\n0\r\n\r\n", out);
  EXPECT_EQ(r.status, parse_status::done);
  EXPECT_EQ(out, "0123456789");
}

TEST(chunked_decoder, accepts_sixteen_hex_digits) {
  chunked_decoder decoder;
  std::string out;
  EXPECT_EQ(decoder.decode("FFFFFFFFFFFFFFFF\r\nabc", out).status, parse_status::incomplete);
  EXPECT_EQ(out, "abc");
}

TEST(chunked_decoder, rejects_malformed_chunks) {
  for (const std::string_view body : {
           "5\r\nhelloX\r\n0\r\n\r\n"sv,         // data not followed by CRLF
           "5\r\nhello\n0\r\n\r\n"sv,            // bare LF after data
           "5\r\nhello\rX"sv,                    // bare CR after data
           "5\nhello\r\n0\r\n\r\n"sv,            // bare LF after the size
           "5\rhello"sv,                         // bare CR after the size
           "\r\n"sv,                             // empty size
           "g\r\n"sv,                            // not hex
           "-5\r\n"sv,                           // sign
           "0x5\r\n"sv,                          // prefix
           "5 \r\nhello\r\n"sv,                  // whitespace not followed by ';'
           " 5\r\n"sv,                           // leading whitespace
           "10000000000000000\r\n"sv,            // 17 digits: overflow
           "00000000000000001\r\n"sv,            // 17 digits even with leading zeros
           "5;ext\x01\r\nhello\r\n"sv,           // control byte in an extension
           "5;ext\rX\r\nhello\r\n"sv,            // bare CR in an extension
           "5;ext\x7f\r\nhello\r\n"sv,           // DEL in an extension
           "0\r\n: v\r\n\r\n"sv,                 // empty trailer name
           "0\r\nBad Name: v\r\n\r\n"sv,         // space in a trailer name
           "0\r\nName : v\r\n\r\n"sv,            // space before the colon
           "0\r\nNoColon\r\n\r\n"sv,             // trailer line without a colon
           "0\r\nX: a\r\n folded\r\n\r\n"sv,     // obs-fold in trailers
           "0\r\nX: a\x01\r\n\r\n"sv,            // control byte in a trailer value
           "0\r\nX: a\rb\r\n\r\n"sv,             // bare CR in a trailer value
           "0\r\nX: a\n\r\n"sv,                  // bare LF ends a trailer line
           "0\r\n\n"sv,                          // bare LF as the final line
           "0\r\n\rX"sv,                         // bare CR as the final line
       })
    EXPECT_EQ(chunk_error_of(body), parse_error::bad_chunk) << body;
}

TEST(chunked_decoder, rejects_endless_extensions_and_trailers) {
  const std::string long_ext = "1;" + std::string(chunked_decoder::max_chunk_ext_bytes, 'e') + "\r\nx\r\n0\r\n\r\n";
  EXPECT_EQ(chunk_error_of(long_ext), parse_error::bad_chunk);
  const std::string ok_ext = "1;" + std::string(chunked_decoder::max_chunk_ext_bytes - 1, 'e') + "\r\nx\r\n0\r\n\r\n";
  EXPECT_EQ(decode_whole(ok_ext).status, parse_status::done);
  const std::string long_trailer = "0\r\nX: " + std::string(chunked_decoder::max_trailer_bytes, 'v') + "\r\n\r\n";
  EXPECT_EQ(chunk_error_of(long_trailer), parse_error::bad_chunk);
}

TEST(chunked_decoder, rejects_a_body_past_max_body) {
  EXPECT_EQ(chunk_error_of("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", 10), parse_error::body_too_large);
  const decode_outcome exact = decode_whole("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", 10);
  EXPECT_EQ(exact.status, parse_status::done);
  EXPECT_EQ(exact.data, "helloworld");
  // Refused from the size line alone, before any of the chunk's data arrives.
  chunked_decoder decoder;
  std::string out;
  const parse_result r = decoder.decode("FFFFFFFF", out, 1024);
  EXPECT_EQ(r.status, parse_status::error);
  EXPECT_EQ(r.error, parse_error::body_too_large);
  EXPECT_TRUE(out.empty());
}

TEST(chunked_decoder, stays_failed_until_reset) {
  chunked_decoder decoder;
  std::string out;
  EXPECT_EQ(decoder.decode("z", out).error, parse_error::bad_chunk);
  const parse_result again = decoder.decode("0\r\n\r\n", out);
  EXPECT_EQ(again.status, parse_status::error);
  EXPECT_EQ(again.error, parse_error::bad_chunk);
  EXPECT_EQ(again.consumed, 0u);
  decoder.reset();
  const parse_result fresh = decoder.decode("1\r\na\r\n0\r\n\r\n", out);
  EXPECT_EQ(fresh.status, parse_status::done);
  EXPECT_EQ(out, "a");
}

TEST(chunked_decoder, reports_where_the_error_is) {
  chunked_decoder decoder;
  std::string out;
  const parse_result r = decoder.decode("3\r\nabcX", out);
  EXPECT_EQ(r.status, parse_status::error);
  EXPECT_EQ(r.consumed, 6u);
  EXPECT_EQ(out, "abc");
}
