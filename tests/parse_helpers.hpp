// What the request-head parser's tests share: parsing an exact heap copy (so that
// AddressSanitizer sees any read past the input), and the error or status of a whole input.
#pragma once

#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include <gtest/gtest.h>

#include "c10k/http/parser.hpp"

namespace c10k::testing {

using namespace c10k::http;

// Parses a heap copy of exactly in.size() bytes, so that AddressSanitizer reports any read past
// the end. Only the status is meaningful afterwards: the views in `head` die with the copy.
inline parse_result parse_exact_copy(std::string_view in, request_head& head, const parse_limits& limits = {}) {
  auto buf = std::make_unique<char[]>(in.size());
  if (!in.empty()) std::memcpy(buf.get(), in.data(), in.size());
  return parse_request_head(std::string_view(buf.get(), in.size()), head, limits);
}

// Returns the error for `in`, or none when it parsed or is incomplete (the status is checked
// separately by callers that care).
inline parse_error error_of(std::string_view in, const parse_limits& limits = {}) {
  request_head head;
  const parse_result r = parse_exact_copy(in, head, limits);
  if (r.status == parse_status::error) {
    EXPECT_EQ(r.consumed, 0u);
    return r.error;
  }
  return parse_error::none;
}

inline parse_status status_of(std::string_view in, const parse_limits& limits = {}) {
  request_head head;
  return parse_exact_copy(in, head, limits).status;
}

inline std::string request_with(std::string_view header_lines, std::string_view request_line = "GET / HTTP/1.1\r\n") {
  return std::string(request_line) + std::string(header_lines) + "\r\n";
}

}  // namespace c10k::testing
