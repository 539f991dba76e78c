// header_rules: the tokenisation and header rules that the request parser (parser.cpp) and
// the response parser (response_parser.cpp) share (private to c10k::http): byte classes, list
// elements, the field-line loop, and the framing headers (Content-Length, Transfer-Encoding,
// Connection). One set of rules for both directions means the client refuses exactly what the
// server would: a message two implementations could frame differently is an error, not a guess.
#pragma once

#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "c10k/http/parser.hpp"

namespace c10k::http::rules {

// Byte classes, one table lookup per byte on the hot path.
enum : std::uint8_t {
  k_tchar = 1 << 0,   // token character (RFC 9110 section 5.6.2)
  k_field = 1 << 1,   // field-value byte: VCHAR, obs-text, SP, HTAB
  k_target = 1 << 2,  // request-target byte: visible ASCII
  k_reg_name = 1 << 3,  // reg-name byte (RFC 3986): unreserved, pct-encoded, sub-delims
  k_hex = 1 << 4,
};

constexpr bool in_set(int c, const char* set) noexcept {
  for (; *set != '\0'; ++set)
    if (c == static_cast<unsigned char>(*set)) return true;
  return false;
}

constexpr std::array<std::uint8_t, 256> make_classes() noexcept {
  std::array<std::uint8_t, 256> t{};
  for (int c = 0; c < 256; ++c) {
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    const bool digit = c >= '0' && c <= '9';
    std::uint8_t v = 0;
    if (alpha || digit || in_set(c, "!#$%&'*+-.^_`|~")) v |= k_tchar;
    if ((c >= 0x21 && c != 0x7F) || c == ' ' || c == '\t') v |= k_field;
    if (c >= 0x21 && c <= 0x7E) v |= k_target;
    if (alpha || digit || in_set(c, "-._~%!$&'()*+,;=")) v |= k_reg_name;
    if (digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')) v |= k_hex;
    t[static_cast<std::size_t>(c)] = v;
  }
  return t;
}

constexpr std::array<std::uint8_t, 256> classes = make_classes();

constexpr bool is(unsigned char c, std::uint8_t cls) noexcept { return (classes[c] & cls) != 0; }
constexpr bool is_ows(unsigned char c) noexcept { return c == ' ' || c == '\t'; }
constexpr bool is_digit(unsigned char c) noexcept { return static_cast<unsigned>(c - '0') < 10u; }

// Word-at-a-time tests (the "haszero"/"hasless" bit tricks) let the long runs of a head, the target
// and header values, be checked eight bytes per step; a flagged word falls back to the byte loop,
// which gives the exact answer.
constexpr std::uint64_t k_ones = 0x0101010101010101ull;
constexpr std::uint64_t k_highs = 0x8080808080808080ull;

inline std::uint64_t load_word(const unsigned char* p) noexcept {
  std::uint64_t w;
  std::memcpy(&w, p, sizeof w);
  return w;
}
// Nonzero when some byte of w is below b (b <= 128).
constexpr std::uint64_t has_less(std::uint64_t w, std::uint8_t b) noexcept { return (w - k_ones * b) & ~w & k_highs; }
constexpr std::uint64_t has_byte(std::uint64_t w, std::uint8_t b) noexcept { return has_less(w ^ (k_ones * b), 1); }

// The index of the lowest byte a has_less/has_byte mask flags. Only the lowest flag is exact
// (a borrow can flag a byte above a true one, never one below), which is all the scans need.
// On a big-endian machine the lowest byte in memory is the word's highest, where a borrow can
// reach: 0 there, and the byte loop that follows looks at the whole word.
inline std::size_t first_flagged(std::uint64_t mask) noexcept {
  if constexpr (std::endian::native == std::endian::little) return static_cast<std::size_t>(std::countr_zero(mask)) / 8;
  else return 0;
}

// Advances i over bytes that are certainly field-value bytes (no control byte and no DEL; HTAB
// ends the fast path too, which is rare and harmless), in whole words, and then to the first
// byte in the last word that may not be one: the byte loop after it starts there.
inline std::size_t skip_field_words(const unsigned char* s, std::size_t i, std::size_t n) noexcept {
  while (n - i >= 8) {
    const std::uint64_t w = load_word(s + i);
    if (const std::uint64_t m = has_less(w, 0x20) | has_byte(w, 0x7F)) return i + first_flagged(m);
    i += 8;
  }
  return i;
}

// Same for request-target bytes, which must also be below 0x7F.
inline std::size_t skip_target_words(const unsigned char* s, std::size_t i, std::size_t n) noexcept {
  while (n - i >= 8) {
    const std::uint64_t w = load_word(s + i);
    if (const std::uint64_t m = has_less(w, 0x21) | has_byte(w, 0x7F) | (w & k_highs)) return i + first_flagged(m);
    i += 8;
  }
  return i;
}

constexpr unsigned char to_lower(unsigned char c) noexcept {
  return static_cast<unsigned>(c - 'A') < 26u ? static_cast<unsigned char>(c | 0x20) : c;
}

// Case-insensitive equality with `lower`, a literal of lower-case letters, digits and
// punctuation from 0x21 up ("content-length", "http://"), for an `s` that holds no control byte
// but HTAB (a token, a field value, a target: what the parsers hand it). Every byte of such a
// literal has bit 0x20 set, so OR-ing 0x20 into a byte of s folds upper-case letters and maps
// nothing else onto the literal's bytes (only control bytes would alias '-', ':' or a digit, and
// HTAB becomes ')'): eight bytes per step, where the parsers compared every header name against
// these literals byte by byte.
inline bool iequals_lower(std::string_view s, std::string_view lower) noexcept {
  const std::size_t n = s.size();
  if (n != lower.size()) return false;
  const auto* a = reinterpret_cast<const unsigned char*>(s.data());
  const auto* b = reinterpret_cast<const unsigned char*>(lower.data());
  if (n >= 8) {
    const std::uint64_t fold = k_ones * 0x20;
    // Whole words, the last one overlapping the one before it when n is not a multiple of 8.
    for (std::size_t i = 0;; i += 8) {
      if (i + 8 > n) i = n - 8;
      if ((load_word(a + i) | fold) != load_word(b + i)) return false;
      if (i + 8 == n) return true;
    }
  }
  if (n >= 4) {  // two 4-byte words, overlapping when n < 8
    const auto word4 = [](const unsigned char* p) {
      std::uint32_t w;
      std::memcpy(&w, p, sizeof w);
      return w;
    };
    const std::uint32_t fold = 0x20202020u;
    return (word4(a) | fold) == word4(b) && (word4(a + n - 4) | fold) == word4(b + n - 4);
  }
  for (std::size_t i = 0; i < n; ++i)
    if ((a[i] | 0x20) != b[i]) return false;
  return true;
}

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] == b[i]) continue;  // names are mostly asked for as they are written
    if (to_lower(static_cast<unsigned char>(a[i])) != to_lower(static_cast<unsigned char>(b[i]))) return false;
  }
  return true;
}

constexpr std::string_view trim_ows(std::string_view s) noexcept {
  while (!s.empty() && is_ows(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && is_ows(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

// Calls f on each OWS-trimmed element of a comma-separated list, empty ones included, and stops
// at the first element for which f returns a parse_error other than none.
template <class F>
inline parse_error for_each_element(std::string_view list, F&& f) {
  std::size_t pos = 0;
  for (;;) {
    const std::size_t comma = list.find(',', pos);
    const parse_error e = f(trim_ows(list.substr(pos, comma == std::string_view::npos ? comma : comma - pos)));
    if (e != parse_error::none || comma == std::string_view::npos) return e;
    pos = comma + 1;
  }
}

inline bool all_of_class(std::string_view s, std::uint8_t cls) noexcept {
  for (const char c : s)
    if (!is(static_cast<unsigned char>(c), cls)) return false;
  return true;
}


// What the framing headers of one message said so far.
struct framing_headers {
  bool cl_seen = false;
  bool te_seen = false;
  bool chunked = false;
  bool conn_close = false;
  bool conn_keep_alive = false;
  std::uint64_t content_length = 0;  // when cl_seen
};

// Applies a Content-Length field value: identical repeated values (RFC 9110 section 8.6) are one
// value, compared as numbers; anything else, or Transfer-Encoding seen too, is an error.
inline parse_error on_content_length(std::string_view value, framing_headers& st) noexcept {
  const parse_error e = for_each_element(value, [&](std::string_view elem) noexcept {
    if (elem.empty()) return parse_error::bad_content_length;
    std::uint64_t n = 0;
    for (const char ch : elem) {
      const auto c = static_cast<unsigned char>(ch);
      if (!is_digit(c)) return parse_error::bad_content_length;
      const unsigned d = c - '0';
      if (n > (UINT64_MAX - d) / 10) return parse_error::bad_content_length;
      n = n * 10 + d;
    }
    if (st.cl_seen && n != st.content_length) return parse_error::bad_content_length;
    st.cl_seen = true;
    st.content_length = n;
    return parse_error::none;
  });
  if (e != parse_error::none) return e;
  // Both framings at once is the classic smuggling vector; RFC 9112 section 6.1 lets a recipient
  // reject it instead of letting Transfer-Encoding win, and we do.
  return st.te_seen ? parse_error::conflicting_framing : parse_error::none;
}

// Applies a Transfer-Encoding field value: only a single, final "chunked" is understood.
inline parse_error on_transfer_encoding(std::string_view value, framing_headers& st, int version_minor) noexcept {
  // An HTTP/1.0 peer cannot know chunked, so a 1.0 message carrying it is likely crafted.
  if (version_minor == 0) return parse_error::bad_transfer_encoding;
  const parse_error e = for_each_element(value, [&](std::string_view elem) noexcept {
    std::size_t n = 0;
    while (n < elem.size() && is(static_cast<unsigned char>(elem[n]), k_tchar)) ++n;
    if (n == 0) return parse_error::bad_transfer_encoding;
    const std::string_view rest = elem.substr(n);
    if (iequals_lower(elem.substr(0, n), "chunked")) {
      // chunked takes no parameters and may be applied only once (RFC 9112 section 7).
      if (!rest.empty() || st.chunked) return parse_error::bad_transfer_encoding;
      st.chunked = true;
      return parse_error::none;
    }
    if (!rest.empty() && rest.front() != ';' && !is_ows(static_cast<unsigned char>(rest.front())))
      return parse_error::bad_transfer_encoding;
    // Only chunked is decoded here: any other coding, before or after it, would hand the
    // application a body it cannot read (RFC 9112 section 6.1). This also covers "chunked is
    // not the final coding", since nothing may follow chunked.
    return parse_error::unsupported_transfer_encoding;
  });
  if (e != parse_error::none) return e;
  st.te_seen = true;
  return st.cl_seen ? parse_error::conflicting_framing : parse_error::none;
}

// Applies a Connection field value; unknown options (Upgrade, TE, ...) are the application's.
inline void on_connection(std::string_view value, framing_headers& st) noexcept {
  for_each_element(value, [&](std::string_view elem) noexcept {
    if (iequals_lower(elem, "close")) st.conn_close = true;
    else if (iequals_lower(elem, "keep-alive")) st.conn_keep_alive = true;
    return parse_error::none;
  });
}

// Applies a field if it is one of the framing fields requests and responses share (Connection,
// Content-Length, Transfer-Encoding); returns the error it makes, none for any other field.
inline parse_error on_framing_field(std::string_view name, std::string_view value, framing_headers& st,
                                    int version_minor) noexcept {
  switch (name.size()) {
    case 10:
      if (iequals_lower(name, "connection")) on_connection(value, st);
      break;
    case 14:
      if (iequals_lower(name, "content-length")) return on_content_length(value, st);
      break;
    case 17:
      if (iequals_lower(name, "transfer-encoding")) return on_transfer_encoding(value, st, version_minor);
      break;
    default:
      break;
  }
  return parse_error::none;
}

// Parses header field lines from in[i] through the empty line that ends them, appending each
// field to `out` and calling on_field(name, value) (a parse_error: none to go on). Returns
// done with i past the empty line, incomplete (in ends first), or error with the reason.
template <class OnField>
inline parse_result parse_fields(std::string_view in, std::size_t& i, std::size_t max_headers,
                                 std::vector<header_field>& out, OnField&& on_field) {
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  const auto fail = [](parse_error e) { return parse_result{parse_status::error, 0, e}; };
  const parse_result more{parse_status::incomplete, 0, parse_error::none};
  for (;;) {
    if (i == n) return more;
    const unsigned char c = s[i];
    if (c == '\r') {
      if (i + 1 == n) return more;
      if (s[i + 1] != '\n') return fail(parse_error::bad_header_name);
      i += 2;
      return {parse_status::done, i, parse_error::none};
    }
    if (c == '\n') {
      ++i;
      return {parse_status::done, i, parse_error::none};
    }
    // Whitespace before the first field could be read as part of the start line by another
    // parser (RFC 9112 section 2.2), so it is a malformed field rather than a fold.
    if (is_ows(c)) return fail(out.empty() ? parse_error::bad_header_name : parse_error::obs_fold);
    if (out.size() == max_headers) return fail(parse_error::too_many_headers);

    const std::size_t name_begin = i;
    while (i < n && is(s[i], k_tchar)) ++i;
    if (i == n) return more;
    // Covers whitespace before the colon (RFC 9112 section 5.1), which must be refused.
    if (s[i] != ':' || i == name_begin) return fail(parse_error::bad_header_name);
    const std::string_view name = in.substr(name_begin, i - name_begin);
    ++i;

    while (i < n && is_ows(s[i])) ++i;
    const std::size_t value_begin = i;
    i = skip_field_words(s, i, n);
    while (i < n && is(s[i], k_field)) ++i;
    if (i == n) return more;
    std::size_t value_end = i;
    if (s[i] == '\r') {
      if (i + 1 == n) return more;
      if (s[i + 1] != '\n') return fail(parse_error::bad_header_value);
      i += 2;
    } else if (s[i] == '\n') {
      ++i;
    } else {
      return fail(parse_error::bad_header_value);
    }
    while (value_end > value_begin && is_ows(s[value_end - 1])) --value_end;
    const std::string_view value = in.substr(value_begin, value_end - value_begin);

    out.push_back(header_field{name, value});
    if (const parse_error e = on_field(name, value); e != parse_error::none) return fail(e);
  }
}

}  // namespace c10k::http::rules
