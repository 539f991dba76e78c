// Tests of the load generator: the histogram, the SPECweb99-like set and its request mix, the
// response framer, and short closed and open runs against an in-process c10k server.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <set>
#include <string>
#include <vector>

#include "c10k/http/response.hpp"
#include "c10k/http/router.hpp"
#include "histogram.hpp"
#include "load.hpp"
#include "response_reader.hpp"
#include "rng.hpp"
#include "specweb.hpp"
#include "test_server.hpp"

using namespace c10k;
using namespace c10k::load;

namespace {

// Checks `got` is within `rel` (relative) of `want`.
void expect_near_rel(double got, double want, double rel) {
  EXPECT_LE(std::abs(got - want), rel * want) << "got " << got << ", want " << want;
}

TEST(Histogram, BucketsRoundTripAndStayNarrow) {
  for (std::uint64_t v : {0ull, 1ull, 255ull, 256ull, 257ull, 1000ull, 123456ull, 99'999'999ull}) {
    const std::size_t i = histogram::index_of(v);
    EXPECT_LE(histogram::lowest_of(i), v);
    if (i + 1 < histogram::bucket_count) {
      EXPECT_GT(histogram::lowest_of(i + 1), v);
    }
    if (v < histogram::linear_limit) EXPECT_EQ(histogram::midpoint_of(i), v);  // exact below 256 us
    else expect_near_rel(static_cast<double>(histogram::midpoint_of(i)), static_cast<double>(v), 0.005);
  }
}

TEST(Histogram, PercentilesOfAUniformDistribution) {
  histogram h;
  for (std::uint64_t v = 1; v <= 100'000; ++v) h.record(v);  // 1 us .. 100 ms, once each
  EXPECT_EQ(h.count(), 100'000u);
  EXPECT_EQ(h.max(), 100'000u);
  EXPECT_EQ(h.min(), 1u);
  expect_near_rel(h.mean(), 50'000.5, 1e-9);
  expect_near_rel(static_cast<double>(h.percentile(50)), 50'000, 0.01);
  expect_near_rel(static_cast<double>(h.percentile(90)), 90'000, 0.01);
  expect_near_rel(static_cast<double>(h.percentile(99)), 99'000, 0.01);
  expect_near_rel(static_cast<double>(h.percentile(99.9)), 99'900, 0.01);
  EXPECT_EQ(h.percentile(100), 100'000u);
}

TEST(Histogram, PercentilesOfAnExponentialDistributionAndMerge) {
  // Exponential with mean 1 ms: the q-quantile is -ln(1-q) ms. Two halves merged.
  histogram a, b;
  rng r(7);
  for (int i = 0; i < 400'000; ++i) {
    const auto us = static_cast<std::uint64_t>(-std::log(1.0 - r.uniform()) * 1000.0);
    (i % 2 ? a : b).record(us);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), 400'000u);
  for (double q : {50.0, 90.0, 99.0}) expect_near_rel(static_cast<double>(a.percentile(q)), -std::log(1 - q / 100) * 1000, 0.02);
  expect_near_rel(a.mean(), 1000, 0.02);
}

TEST(Histogram, HugeValuesLandInTheLastBucketAndMaxStaysExact) {
  histogram h;
  h.record(500'000'000'000ull);
  EXPECT_EQ(h.max(), 500'000'000'000ull);
  EXPECT_EQ(h.percentile(50), 500'000'000'000ull);  // clamped to [min, max]
}

TEST(Specweb, SizesNamesAndTotal) {
  const specweb_set set(1, 10);
  ASSERT_EQ(set.files().size(), 10u * 4 * 9);
  EXPECT_EQ(set.files().front().name, "dir00000/class0_1");
  EXPECT_EQ(set.files().back().name, "dir00009/class3_9");
  EXPECT_EQ(specweb_set::file_size(0, 1), 102u);
  EXPECT_EQ(specweb_set::file_size(0, 9), 922u);
  EXPECT_EQ(specweb_set::file_size(1, 3), 3072u);
  EXPECT_EQ(specweb_set::file_size(3, 9), 921'600u);
  EXPECT_EQ(set.total_bytes(), 10u * (4608 + 46080 + 460800 + 4608000));
  const auto& f = set.files()[specweb_set::index_of(3, 2, 7)];
  EXPECT_EQ(f.name, "dir00003/class2_7");
  EXPECT_EQ(f.size, 71'680u);
}

TEST(Specweb, SameSeedSameSetOtherSeedOtherBytes) {
  const specweb_set a(42, 3), b(42, 3), c(43, 3);
  ASSERT_EQ(a.files().size(), b.files().size());
  for (std::size_t i = 0; i < a.files().size(); ++i) {
    EXPECT_EQ(a.files()[i].name, b.files()[i].name);
    EXPECT_EQ(a.files()[i].size, b.files()[i].size);
    EXPECT_EQ(a.contents(i), b.contents(i));
  }
  EXPECT_NE(a.contents(5), c.contents(5));
  EXPECT_NE(a.contents(5), a.contents(6).substr(0, a.files()[5].size));

  // The same seed gives the same request stream.
  specweb_picker p(a, 9), q(b, 9);
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(p.next("/s/"), q.next("/s/"));
}

TEST(Specweb, ClassMixAndZipfWithinClass) {
  const specweb_set set(1, 10);
  specweb_picker p(set, 123);
  std::array<int, 4> per_class{};
  std::vector<int> per_file(set.files().size());
  const int picks = 100'000;
  for (int i = 0; i < picks; ++i) {
    const std::size_t f = p.next_index();
    ++per_class[set.files()[f].cls];
    ++per_file[f];
  }
  for (unsigned c = 0; c < 4; ++c)
    EXPECT_NEAR(per_class[c] * 100.0 / picks, specweb_set::class_percent[c], 1.0) << "class " << c;
  // Zipf: in class 1, the top-ranked file is asked for about twice as often as the second.
  const int first = per_file[set.ranked(1, 0)], second = per_file[set.ranked(1, 1)];
  EXPECT_NEAR(static_cast<double>(first) / second, 2.0, 0.25);
  // Rankings are a permutation of the class's files.
  std::set<std::size_t> seen;
  for (std::size_t r = 0; r < 90; ++r) {
    EXPECT_EQ(set.files()[set.ranked(2, r)].cls, 2u);
    seen.insert(set.ranked(2, r));
  }
  EXPECT_EQ(seen.size(), 90u);
}

TEST(ResponseReader, FramesLengthChunkedAndCloseDelimitedBodiesInPieces) {
  const std::string stream =
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
      "HTTP/1.1 100 Continue\r\n\r\n"
      "HTTP/1.1 404 Not Found\r\ntransfer-encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n0\r\nT: 1\r\n\r\n"
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
      "HTTP/1.0 200 OK\r\n\r\nuntil the end";
  // Every split of the stream into two pieces gives the same replies.
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    response_reader r;
    std::vector<int> codes;
    std::vector<bool> keep;
    std::string_view pieces[2] = {std::string_view(stream).substr(0, split), std::string_view(stream).substr(split)};
    for (auto piece : pieces) {
      while (!piece.empty()) {
        auto s = r.parse(piece);
        ASSERT_NE(s, response_reader::status::error) << r.error_reason() << " at split " << split;
        if (s == response_reader::status::complete) {
          codes.push_back(r.status_code());
          keep.push_back(r.keep_alive());
        }
      }
    }
    ASSERT_EQ(r.finish(), response_reader::status::complete);
    codes.push_back(r.status_code());
    EXPECT_EQ(codes, (std::vector<int>{200, 404, 304, 200})) << "split " << split;
    EXPECT_EQ(keep, (std::vector<bool>{true, true, true}));
  }
}

TEST(ResponseReader, RejectsGarbageAndReportsCutShortReplies) {
  response_reader r;
  std::string_view bad = "SMTP ready\r\n\r\n";
  EXPECT_EQ(r.parse(bad), response_reader::status::error);
  response_reader cut;
  std::string_view part = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc";
  EXPECT_EQ(cut.parse(part), response_reader::status::need_more);
  EXPECT_EQ(cut.finish(), response_reader::status::error);
}

// A server with /plain and a 404 for everything else, on the epoll backend (every kernel has it).
std::unique_ptr<http::server> plain_server() {
  http::router routes;
  routes.get("/plain", [](http::request&) -> task<http::response> { co_return http::response::text(200, "x"); });
  return c10k::testing::start_test_server(std::move(routes), "epoll");
}

load_config short_run(const http::server& s, std::string mode) {
  load_config c;
  c.mode = std::move(mode);
  c.port = s.port();
  c.backend = "epoll";
  c.duration_s = 1.0;
  c.timeout_s = 2;
  c.verbose = false;
  return c;
}

TEST(LoadRun, ClosedModeAgainstAnInProcessServer) {
  auto server = plain_server();
  load_config c = short_run(*server, "closed");
  c.connections = 8;
  c.pipeline = 2;
  const load_result r = run_load(c);
  EXPECT_GT(r.replies, 100u);
  EXPECT_EQ(r.errors.total(), 0u);
  EXPECT_GT(r.requests, 0u);
  EXPECT_GT(r.bytes_received, r.replies * 50);  // each reply: a head and a 1-byte body
  EXPECT_EQ(r.latency_us.count(), r.replies);
  EXPECT_GT(r.latency_us.percentile(50), 0u);
  EXPECT_NEAR(r.duration_s, 1.0, 0.01);
  const std::string json = to_json(r);
  for (const char* field : {"\"mode\":\"closed\"", "\"reply_rate\":", "\"errors\":{\"connect\":0,", "\"p999\":", "\"reopened\":0"})
    EXPECT_NE(json.find(field), std::string::npos) << field << " in " << json;
}

TEST(LoadRun, OpenModeKeepsTheOfferedRate) {
  auto server = plain_server();
  load_config c = short_run(*server, "open");
  c.rate = 500;
  c.calls = 2;
  c.threads = 2;
  const load_result r = run_load(c);
  EXPECT_EQ(r.errors.total(), 0u);
  expect_near_rel(static_cast<double>(r.replies), c.rate * c.calls * c.duration_s, 0.10);
  expect_near_rel(static_cast<double>(r.connections), c.rate * c.duration_s, 0.10);
  EXPECT_DOUBLE_EQ(r.offered_rate, 1000);
}

TEST(LoadRun, HttpErrorsAndRefusedConnectsAreCounted) {
  auto server = plain_server();
  load_config c = short_run(*server, "open");
  c.rate = 100;
  c.duration_s = 0.3;
  c.path = "/missing";
  load_result r = run_load(c);
  EXPECT_EQ(r.replies, 0u);
  EXPECT_NEAR(static_cast<double>(r.errors.http), 30, 4);

  const std::uint16_t port = server->port();
  server.reset();  // nobody listens there now
  c.path = "/plain";
  c.port = port;
  r = run_load(c);
  EXPECT_NEAR(static_cast<double>(r.errors.connect), 30, 4);
}

}  // namespace
