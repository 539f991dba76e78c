// Static files over real sockets on every backend: sendfile bodies, conditionals, ranges,
// directories, and no way out of the root.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include "backend_param.hpp"
#include "c10k/http/server.hpp"
#include "c10k/http/static_files.hpp"
#include "http_client.hpp"
#include "test_server.hpp"

using namespace c10k;
using c10k::testing::get;
using c10k::testing::http_client;

namespace {

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i) s[i] = static_cast<char>('a' + (i * 7) % 26);
  return s;
}

class static_files_test : public c10k::testing::backend_test {
 protected:
  void SetUp() override {
    backend_test::SetUp();
    if (IsSkipped()) return;
    char tmpl[] = "/tmp/c10k-static-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    char out_tmpl[] = "/tmp/c10k-outside-XXXXXX";
    outside_ = ::mkdtemp(out_tmpl);
    write(dir_ + "/hello.txt", "hello, file\n");
    write(dir_ + "/big.bin", pattern(3 << 20));
    ::mkdir((dir_ + "/docs").c_str(), 0755);
    write(dir_ + "/docs/index.html", "<h1>docs</h1>\n");
    write(outside_ + "/secret.txt", "secret\n");
    ASSERT_EQ(::symlink((outside_ + "/secret.txt").c_str(), (dir_ + "/leak.txt").c_str()), 0);
    http::router r;
    r.get("/static/{path...}", http::static_files(dir_));
    r.get("/plain", [](http::request&) -> task<http::response> { co_return http::response::text(200, "x"); });
    srv_ = c10k::testing::start_test_server(std::move(r), backend_name());
  }
  void TearDown() override {
    srv_.reset();
    if (!dir_.empty()) std::system(("rm -rf " + dir_ + " " + outside_).c_str());
  }
  static void write(const std::string& path, const std::string& content) { std::ofstream(path, std::ios::binary) << content; }

  std::string dir_, outside_;
  std::unique_ptr<http::server> srv_;
};

}  // namespace

TEST_P(static_files_test, serves_a_file_with_its_type_and_validators) {
  http_client c(srv_->port());
  auto r = c.request(get("/static/hello.txt"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "hello, file\n");
  EXPECT_EQ(r->header("content-type"), "text/plain; charset=utf-8");
  EXPECT_FALSE(r->header("etag").empty());
  EXPECT_FALSE(r->header("last-modified").empty());
  EXPECT_EQ(r->header("accept-ranges"), "bytes");
}

TEST_P(static_files_test, a_large_file_arrives_whole_and_the_connection_goes_on) {
  http_client c(srv_->port());
  c.send(get("/static/big.bin") + get("/plain") + get("/static/hello.txt"));
  auto big = c.read_reply(), plain = c.read_reply(), small = c.read_reply();
  ASSERT_TRUE(big && plain && small);
  EXPECT_EQ(big->body.size(), 3u << 20);
  EXPECT_TRUE(big->body == pattern(3 << 20));
  EXPECT_EQ(plain->body, "x");
  EXPECT_EQ(small->body, "hello, file\n");
}

TEST_P(static_files_test, a_directory_serves_its_index_html) {
  http_client c(srv_->port());
  auto r = c.request(get("/static/docs/"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "<h1>docs</h1>\n");
  EXPECT_EQ(r->header("content-type"), "text/html; charset=utf-8");
}

TEST_P(static_files_test, matching_validators_get_304_without_a_body) {
  http_client c(srv_->port());
  auto first = c.request(get("/static/hello.txt"));
  ASSERT_TRUE(first);
  auto by_etag = c.request(get("/static/hello.txt", "If-None-Match: " + first->header("etag") + "\r\n"));
  ASSERT_TRUE(by_etag);
  EXPECT_EQ(by_etag->status, 304);
  EXPECT_TRUE(by_etag->body.empty());
  EXPECT_TRUE(by_etag->header("content-length").empty());
  auto by_date = c.request(get("/static/hello.txt", "If-Modified-Since: " + first->header("last-modified") + "\r\n"));
  ASSERT_TRUE(by_date);
  EXPECT_EQ(by_date->status, 304);
  auto other = c.request(get("/static/hello.txt", "If-None-Match: \"nope\"\r\n"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
}

TEST_P(static_files_test, a_single_byte_range_gets_206_and_one_past_the_end_416) {
  http_client c(srv_->port());
  auto r = c.request(get("/static/hello.txt", "Range: bytes=0-4\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, "hello");
  EXPECT_EQ(r->header("content-range"), "bytes 0-4/12");
  r = c.request(get("/static/hello.txt", "Range: bytes=-5\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "file\n");
  r = c.request(get("/static/hello.txt", "Range: bytes=7-\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "file\n");
  r = c.request(get("/static/hello.txt", "Range: bytes=100-200\r\n"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 416);
  EXPECT_EQ(r->header("content-range"), "bytes */12");
  r = c.request(get("/static/hello.txt", "Range: bytes=0-1,4-5\r\n"));  // several ranges: the whole file
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_P(static_files_test, head_gets_the_length_without_the_body) {
  http_client c(srv_->port());
  c.send("HEAD /static/big.bin HTTP/1.1\r\nHost: a\r\n\r\n");
  auto r = c.read_reply(/*head_request=*/true);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("content-length"), std::to_string(3 << 20));
  auto next = c.request(get("/plain"));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "x");
}

TEST_P(static_files_test, nothing_outside_the_root_is_reachable) {
  http_client c(srv_->port());
  for (std::string path : {"/static/../../etc/passwd", "/static/%2e%2e/%2e%2e/etc/passwd", "/static/docs/..%2F..%2Fetc%2Fpasswd",
                           "/static/leak.txt", "/static/missing.txt", "/static/hello.txt%00.html"}) {
    auto r = c.request(get(path));
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, 404) << path;
  }
}

C10K_INSTANTIATE_FOR_EVERY_BACKEND(static_files_test);
