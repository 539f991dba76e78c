// libFuzzer target for c10k::http::parse_request_head.
//
// Besides the sanitizers' own checks (no read past the input, no UB), it traps when one of the
// parser's documented properties fails:
//   * consumed <= size, and consumed == 0 unless the result is done;
//   * on done, every view in the head (method, target, host, header names and values) lies
//     inside the input, and the head respects the limits it was parsed under;
//   * prefix consistency: for done with consumed = k, the prefix of length k gives done with
//     consumed k and the same head, and shorter prefixes give incomplete; an error on a prefix
//     implies the same error on the whole input; done on a prefix implies done on the whole.
// Each prefix is copied into its own heap buffer of exactly its size, so that AddressSanitizer
// catches a read past the end of the prefix too.
//
// Every input is parsed twice, under the default limits and under tight ones, so that the 414
// and 431 paths are reached with inputs of a few hundred bytes.

#include <c10k/http/parser.hpp>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace {

using namespace c10k::http;

#define CHECK(cond)                         \
  do {                                      \
    if (!(cond)) __builtin_trap();          \
  } while (0)

bool within(std::string_view view, std::string_view buf) {
  if (view.empty()) return true;  // an empty view may point anywhere (or be null)
  const auto vb = reinterpret_cast<std::uintptr_t>(view.data());
  const auto bb = reinterpret_cast<std::uintptr_t>(buf.data());
  return vb >= bb && vb + view.size() <= bb + buf.size();
}

// Views of a done head must lie in the first `consumed` bytes of `buf`.
void check_head(const request_head& h, std::string_view buf, std::size_t consumed, const parse_limits& lim) {
  const std::string_view head = buf.substr(0, consumed);
  CHECK(!h.method.empty() && within(h.method, head));
  CHECK(!h.target.empty() && within(h.target, head));
  CHECK(h.target.size() <= lim.max_target_bytes);
  CHECK(within(h.host, head));
  CHECK(h.version_minor == 0 || h.version_minor == 1);
  CHECK(h.headers.size() <= lim.max_headers);
  CHECK(consumed <= lim.max_head_bytes);
  for (const header_field& f : h.headers) {
    CHECK(!f.name.empty() && within(f.name, head));
    CHECK(within(f.value, head));
    if (!f.value.empty()) {
      CHECK(f.value.front() != ' ' && f.value.front() != '\t');
      CHECK(f.value.back() != ' ' && f.value.back() != '\t');
    }
  }
  if (h.version_minor == 0) CHECK(h.framing != body_framing::chunked && !h.expect_continue);
}

// Same head, with views compared as offsets from their buffers' starts.
bool same_head(const request_head& a, std::string_view abuf, const request_head& b, std::string_view bbuf) {
  const auto same_view = [&](std::string_view x, std::string_view y) {
    if (x.size() != y.size()) return false;
    if (x.empty()) return true;
    return x.data() - abuf.data() == y.data() - bbuf.data();
  };
  if (!same_view(a.method, b.method) || !same_view(a.target, b.target) || !same_view(a.host, b.host)) return false;
  if (a.version_minor != b.version_minor || a.framing != b.framing || a.content_length != b.content_length ||
      a.keep_alive != b.keep_alive || a.expect_continue != b.expect_continue ||
      a.headers.size() != b.headers.size())
    return false;
  for (std::size_t i = 0; i < a.headers.size(); ++i)
    if (!same_view(a.headers[i].name, b.headers[i].name) || !same_view(a.headers[i].value, b.headers[i].value))
      return false;
  return true;
}

void check_result(const parse_result& r, std::size_t size) {
  CHECK(r.consumed <= size);
  switch (r.status) {
    case parse_status::done:
      CHECK(r.error == parse_error::none && r.consumed > 0);
      break;
    case parse_status::incomplete:
      CHECK(r.error == parse_error::none && r.consumed == 0);
      break;
    case parse_status::error:
      CHECK(r.error != parse_error::none && r.consumed == 0);
      break;
  }
}

// Parses the first p bytes of `whole` from a private copy and checks the result against the
// whole input's result.
void check_prefix(std::string_view whole, const parse_result& wr, const request_head& wh, std::size_t p,
                  const parse_limits& lim) {
  std::unique_ptr<char[]> copy(new char[p == 0 ? 1 : p]);
  if (p != 0) std::memcpy(copy.get(), whole.data(), p);
  const std::string_view in(copy.get(), p);
  request_head h;
  const parse_result r = parse_request_head(in, h, lim);
  check_result(r, p);
  if (r.status == parse_status::done) check_head(h, in, r.consumed, lim);

  switch (wr.status) {
    case parse_status::done:
      if (p >= wr.consumed) {
        CHECK(r.status == parse_status::done && r.consumed == wr.consumed);
        CHECK(same_head(h, in, wh, whole));
      } else {
        CHECK(r.status == parse_status::incomplete);
      }
      break;
    case parse_status::incomplete:
      CHECK(r.status == parse_status::incomplete);
      break;
    case parse_status::error:
      // A prefix may still be incomplete, but neither done nor a different error.
      CHECK(r.status != parse_status::done);
      if (r.status == parse_status::error) CHECK(r.error == wr.error);
      break;
  }
}

void run(std::string_view in, const parse_limits& lim) {
  request_head h;
  const parse_result r = parse_request_head(in, h, lim);
  check_result(r, in.size());
  if (r.status == parse_status::done) check_head(h, in, r.consumed, lim);

  // Parsing is a pure function of the bytes: a reused request_head gives the same answer.
  const parse_result again = parse_request_head(in, h, lim);
  CHECK(again.status == r.status && again.consumed == r.consumed && again.error == r.error);

  const std::size_t n = in.size();
  if (n == 0) return;
  if (r.status == parse_status::done) {
    const std::size_t k = r.consumed;
    check_prefix(in, r, h, k, lim);
    check_prefix(in, r, h, k - 1, lim);
    if (k / 2 != k - 1) check_prefix(in, r, h, k / 2, lim);
    // One more, chosen from the input so that the fuzzer can steer it.
    const std::size_t extra = static_cast<unsigned char>(in[n - 1]) * 131u % k;
    check_prefix(in, r, h, extra, lim);
  } else {
    check_prefix(in, r, h, n - 1, lim);
    if (n / 2 != n - 1) check_prefix(in, r, h, n / 2, lim);
    const std::size_t extra = static_cast<unsigned char>(in[0]) * 131u % n;
    check_prefix(in, r, h, extra, lim);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  run(in, parse_limits{});
  parse_limits tight;
  tight.max_head_bytes = 200;
  tight.max_target_bytes = 24;
  tight.max_headers = 4;
  run(in, tight);
  return 0;
}
