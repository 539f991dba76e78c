// Request paths as file names: what percent_decode and stays_below let through.
#include <gtest/gtest.h>

#include <string>

#include "c10k/http/path.hpp"

using c10k::http::percent_decode;
using c10k::http::stays_below;

TEST(path, percent_decode_turns_escapes_into_bytes) {
  std::string out;
  ASSERT_TRUE(percent_decode("a%20b%2Fc%2e", out));
  EXPECT_EQ(out, "a b/c.");
  ASSERT_TRUE(percent_decode("plain", out));
  EXPECT_EQ(out, "plain");
}

TEST(path, percent_decode_refuses_malformed_escapes_and_nul) {
  std::string out;
  EXPECT_FALSE(percent_decode("a%2", out));
  EXPECT_FALSE(percent_decode("a%zz", out));
  EXPECT_FALSE(percent_decode("a%00b", out));
}

TEST(path, stays_below_refuses_parent_segments_and_absolute_paths) {
  EXPECT_TRUE(stays_below("a/b.txt"));
  EXPECT_TRUE(stays_below("a/..b/c"));  // a name that starts with dots is a name
  EXPECT_TRUE(stays_below(""));
  EXPECT_FALSE(stays_below(".."));
  EXPECT_FALSE(stays_below("a/../../etc/passwd"));
  EXPECT_FALSE(stays_below("a/.."));
  EXPECT_FALSE(stays_below("/etc/passwd"));
  std::string decoded;
  ASSERT_TRUE(percent_decode("%2e%2e/secret", decoded));
  EXPECT_FALSE(stays_below(decoded));
}
