// HTTP request head parsing throughput.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "c10k/http/parser.hpp"

namespace c10k::micro {
namespace {

// The smallest complete request: a request line and Host, as plaintext load generators send.
constexpr std::string_view minimal_request = "GET /plain HTTP/1.1\r\nHost: x\r\n\r\n";

// What a browser sends for a page asset: about 600 bytes, 13 headers, long values
// (User-Agent, Accept, a cookie), so the per-byte scanning dominates, not the per-call setup.
constexpr std::string_view browser_request =
    "GET /assets/app.js?v=3 HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
    "Accept-Language: en-GB,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Referer: https://www.example.com/index.html\r\n"
    "Connection: keep-alive\r\n"
    "Cookie: session=4f9a1c2e7b3d8e6f0a5b9c1d2e3f4a5b; theme=dark\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "Sec-Fetch-Dest: script\r\n"
    "Sec-Fetch-Mode: no-cors\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "If-None-Match: \"5e1f-18c2a7b3d40\"\r\n"
    "\r\n";

// One parse_request_head of a complete head, per operation. The request_head is reused, as
// the connection reuses it between requests, so its header vector keeps its capacity and no
// allocation is measured. A head that does not parse fails the benchmark instead of timing
// the error path.
void run_parse(benchmark::State& state, std::string_view input) {
  // A private copy, so the parser reads from an ordinary heap buffer as it would from a receive.
  const std::string buffer(input);
  http::request_head head;
  if (http::parse_request_head(buffer, head).status != http::parse_status::done) {
    state.SkipWithError("the request does not parse");
    return;
  }
  for (auto _ : state) {
    auto r = http::parse_request_head(buffer, head);
    benchmark::DoNotOptimize(r);
    benchmark::DoNotOptimize(head.headers.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(buffer.size()));
  state.SetLabel(std::to_string(buffer.size()) + " bytes, " + std::to_string(head.headers.size()) + " headers");
}

void BM_parse_request_minimal(benchmark::State& state) { run_parse(state, minimal_request); }
BENCHMARK(BM_parse_request_minimal);

void BM_parse_request_browser(benchmark::State& state) { run_parse(state, browser_request); }
BENCHMARK(BM_parse_request_browser);

}  // namespace
}  // namespace c10k::micro
