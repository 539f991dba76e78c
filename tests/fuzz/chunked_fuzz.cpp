// libFuzzer target for c10k::http::chunked_decoder.
//
// The first byte picks how the rest is fed: bits 0-2 a split pattern, bits 3-4 the max_body
// limit. The rest is decoded once in one piece and once in pieces; the two runs must agree on
// the status, the error, the decoded data and the total of bytes consumed. Also checked: each
// call's consumed <= its input (== on incomplete), the decoded size stays within max_body, a
// finished decoder consumes nothing more and repeats its answer, and reset() gives a decoder
// that behaves as a new one. Every piece is copied into its own heap buffer of exactly its size
// so that AddressSanitizer catches a read past a piece.

#include <c10k/http/parser.hpp>

#include <cstddef>
#include <cstdint>
#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

namespace {

using namespace c10k::http;

#define CHECK(cond)                \
  do {                             \
    if (!(cond)) __builtin_trap(); \
  } while (0)

struct outcome {
  parse_status status = parse_status::incomplete;
  parse_error error = parse_error::none;
  std::size_t consumed = 0;  // in all, over every call
  std::string data;
};

// Feeds one piece from a private copy; returns false once the decoder is finished.
bool feed(chunked_decoder& d, std::string_view piece, std::uint64_t max_body, outcome& o) {
  std::unique_ptr<char[]> copy(new char[piece.empty() ? 1 : piece.size()]);
  if (!piece.empty()) std::memcpy(copy.get(), piece.data(), piece.size());
  const std::string_view in(copy.get(), piece.size());
  const std::size_t before = o.data.size();
  const parse_result r = d.decode(in, o.data, max_body);
  CHECK(r.consumed <= in.size());
  CHECK(o.data.size() - before <= r.consumed);  // decoded bytes come from consumed bytes
  o.status = r.status;
  o.error = r.error;
  o.consumed += r.consumed;
  switch (r.status) {
    case parse_status::incomplete:
      CHECK(r.error == parse_error::none && r.consumed == in.size());
      return true;
    case parse_status::done:
      CHECK(r.error == parse_error::none && r.consumed > 0);
      return false;
    case parse_status::error:
      CHECK(r.error == parse_error::bad_chunk || r.error == parse_error::body_too_large);
      return false;
  }
  return false;
}

// Returns the length of the next piece for pattern `p` (0 is allowed: an empty call).
struct splitter {
  unsigned pattern;
  std::uint32_t state;
  std::size_t step = 0;
  std::size_t next() {
    ++step;
    switch (pattern) {
      case 0: return 1;
      case 1: return 2;
      case 2: return 3;
      case 3: return 7;
      case 4: return step;                 // 1, 2, 3, ...
      case 5: return step % 2 ? 1 : 5;     // 1, 5, 1, 5, ...
      default:                             // pseudo-random, 0..16
        state = state * 1103515245u + 12345u;
        return (state >> 16) % 17;
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const unsigned sel = data[0];
  const std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);
  static constexpr std::uint64_t limits[] = {UINT64_MAX, 0, 16, 1000};
  const std::uint64_t max_body = limits[(sel >> 3) & 3];

  // In one piece.
  chunked_decoder whole;
  outcome one;
  one.data = "prefix";  // decode appends: what was in `out` stays
  feed(whole, in, max_body, one);
  CHECK(one.data.compare(0, 6, "prefix") == 0);
  one.data.erase(0, 6);
  CHECK(one.data.size() <= max_body);

  // A finished decoder repeats its answer and consumes nothing.
  if (one.status != parse_status::incomplete) {
    std::string more;
    const parse_result again = whole.decode(in, more, max_body);
    CHECK(again.status == one.status && again.error == one.error && again.consumed == 0 && more.empty());
  }

  // In pieces, with a decoder that was used and reset() first.
  chunked_decoder split;
  {
    std::string junk;
    split.decode("5\r\nab", junk);
    split.reset();
  }
  outcome many;
  splitter sp{sel & 7, sel * 2654435761u};
  std::size_t pos = 0;
  bool going = true;
  while (going && pos < in.size()) {
    const std::size_t len = std::min(sp.next(), in.size() - pos);
    going = feed(split, in.substr(pos, len), max_body, many);
    pos += len;
  }
  if (in.empty()) feed(split, in, max_body, many);

  CHECK(many.status == one.status);
  CHECK(many.error == one.error);
  CHECK(many.consumed == one.consumed);
  CHECK(many.data == one.data);
  return 0;
}
