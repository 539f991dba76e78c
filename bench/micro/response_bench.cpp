// HTTP response serialisation throughput.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>

#include "c10k/http/date.hpp"
#include "c10k/http/response.hpp"

namespace c10k::micro {
namespace {

constexpr const char* small_body = "Hello, World!";

// Serialising a small text response, per operation: the status line and headers through
// append_head (with the Date from http_date(), which formats at most once a second), then the
// body, into one output string reused across responses as the connection reuses its write
// buffer, so after the first iteration no allocation is measured. The response is built once:
// this is the serialiser alone.
void BM_response_serialise(benchmark::State& state) {
  const http::response r = http::response::text(200, small_body);
  std::string out;
  for (auto _ : state) {
    out.clear();
    http::append_head(out, r, http::http_date(), true, 1);
    out += r.body();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
  state.SetLabel(std::to_string(out.size()) + " bytes");
}
BENCHMARK(BM_response_serialise);

// The same, with the response built by the handler each time (response::text: the body string
// and the Content-Type header, which allocate): what a plaintext handler plus the serialiser
// cost per request.
void BM_response_build_and_serialise(benchmark::State& state) {
  std::string out;
  for (auto _ : state) {
    const http::response r = http::response::text(200, small_body);
    out.clear();
    http::append_head(out, r, http::http_date(), true, 1);
    out += r.body();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(out.size()));
  state.SetLabel(std::to_string(out.size()) + " bytes");
}
BENCHMARK(BM_response_build_and_serialise);

}  // namespace
}  // namespace c10k::micro
