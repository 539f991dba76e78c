#include "c10k/http/parser.hpp"

#include <algorithm>
#include <array>
#include <cstring>

namespace c10k::http {
namespace {

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

// Advances i over bytes that are certainly field-value bytes (no control byte and no DEL; HTAB
// ends the fast path too, which is rare and harmless), in whole words.
inline std::size_t skip_field_words(const unsigned char* s, std::size_t i, std::size_t n) noexcept {
  while (n - i >= 8) {
    const std::uint64_t w = load_word(s + i);
    if (has_less(w, 0x20) | has_byte(w, 0x7F)) break;
    i += 8;
  }
  return i;
}

// Same for request-target bytes, which must also be below 0x7F.
inline std::size_t skip_target_words(const unsigned char* s, std::size_t i, std::size_t n) noexcept {
  while (n - i >= 8) {
    const std::uint64_t w = load_word(s + i);
    if (has_less(w, 0x21) | has_byte(w, 0x7F) | (w & k_highs)) break;
    i += 8;
  }
  return i;
}

constexpr unsigned char to_lower(unsigned char c) noexcept {
  return static_cast<unsigned>(c - 'A') < 26u ? static_cast<unsigned char>(c | 0x20) : c;
}

// `lower` must already be lower case: the names it is compared with are literals.
constexpr bool iequals_lower(std::string_view s, std::string_view lower) noexcept {
  if (s.size() != lower.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (to_lower(static_cast<unsigned char>(s[i])) != static_cast<unsigned char>(lower[i])) return false;
  return true;
}

constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (to_lower(static_cast<unsigned char>(a[i])) != to_lower(static_cast<unsigned char>(b[i]))) return false;
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
parse_error for_each_element(std::string_view list, F&& f) {
  std::size_t pos = 0;
  for (;;) {
    const std::size_t comma = list.find(',', pos);
    const parse_error e = f(trim_ows(list.substr(pos, comma == std::string_view::npos ? comma : comma - pos)));
    if (e != parse_error::none || comma == std::string_view::npos) return e;
    pos = comma + 1;
  }
}

bool all_of_class(std::string_view s, std::uint8_t cls) noexcept {
  for (const char c : s)
    if (!is(static_cast<unsigned char>(c), cls)) return false;
  return true;
}

// Checks uri-host [":" port] (RFC 3986 section 3.2), the syntax shared by the Host header, the
// authority of an absolute-form target and a CONNECT target (where the port is required). Userinfo,
// paths, whitespace and non-ASCII are all refused, since no character class here admits them.
bool valid_authority(std::string_view a, bool port_required) noexcept {
  std::string_view port;
  bool has_port = false;
  if (!a.empty() && a.front() == '[') {
    // IP-literal: the colons inside belong to the address, not to a port.
    const std::size_t close = a.find(']');
    if (close == std::string_view::npos || close == 1) return false;
    for (const char ch : a.substr(1, close - 1)) {
      const auto c = static_cast<unsigned char>(ch);
      if (!is(c, k_reg_name) && c != ':') return false;
    }
    const std::string_view rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      has_port = true;
      port = rest.substr(1);
    }
  } else {
    const std::size_t colon = a.find(':');
    const std::string_view host = a.substr(0, colon);
    if (host.empty() || !all_of_class(host, k_reg_name)) return false;
    if (colon != std::string_view::npos) {
      has_port = true;
      port = a.substr(colon + 1);
    }
  }
  // RFC 3986 allows an empty port after ':' ("port = *DIGIT"); authority-form does not.
  if (port_required && (!has_port || port.empty())) return false;
  if (port.size() > 5) return false;
  unsigned value = 0;
  for (const char c : port) {
    if (!is_digit(static_cast<unsigned char>(c))) return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 65535;
}

// Checks the form of the target against the method and, for absolute-form, returns the
// authority through `authority`. Only http and https absolute URIs are accepted: an origin
// server has no use for other schemes.
parse_error check_target(std::string_view method, std::string_view target, std::string_view& authority) noexcept {
  // authority-form (RFC 9112 section 3.2.3) is uri-host ":" port, nothing more.
  if (method == "CONNECT") return valid_authority(target, true) ? parse_error::none : parse_error::bad_target;
  if (target.front() == '/') return parse_error::none;
  if (target.front() == '*')
    return target.size() == 1 && method == "OPTIONS" ? parse_error::none : parse_error::bad_target;
  std::size_t scheme_end = 0;
  if (target.size() > 7 && iequals_lower(target.substr(0, 7), "http://")) {
    scheme_end = 7;
  } else if (target.size() > 8 && iequals_lower(target.substr(0, 8), "https://")) {
    scheme_end = 8;
  } else {
    return parse_error::bad_target;
  }
  const std::size_t end = target.find_first_of("/?#", scheme_end);
  const std::string_view auth =
      target.substr(scheme_end, end == std::string_view::npos ? end : end - scheme_end);
  // RFC 9110 section 4.2.4: userinfo in an http(s) URI is to be treated as an error; it fails here
  // because no authority character class admits '@'.
  if (!valid_authority(auth, false)) return parse_error::bad_target;
  authority = auth;
  return parse_error::none;
}

// Classifies a complete version token.
parse_error classify_version(std::string_view v, int& minor) noexcept {
  if (v.size() >= 6 && v.substr(0, 5) == "HTTP/" && v[5] >= '2' && v[5] <= '9' &&
      (v.size() == 6 || (v.size() == 8 && v[6] == '.' && is_digit(static_cast<unsigned char>(v[7])))))
    return parse_error::version_not_supported;
  if (v.size() != 8 || v.substr(0, 7) != "HTTP/1.") return parse_error::bad_version;
  // HTTP/1.2 and up do not exist; refusing them is simpler than guessing their semantics.
  if (v[7] != '0' && v[7] != '1') return parse_error::bad_version;
  minor = v[7] - '0';
  return parse_error::none;
}

// Tells whether an unterminated version token can still become one classify_version knows, so
// that garbage is refused at once instead of waiting for a line end.
bool version_prefix_ok(std::string_view v) noexcept {
  constexpr std::string_view proto = "HTTP/";
  for (std::size_t i = 0; i < v.size(); ++i) {
    const char c = v[i];
    bool ok = false;
    if (i < proto.size()) ok = c == proto[i];
    else if (i == 5) ok = c >= '1' && c <= '9';
    else if (i == 6) ok = c == '.';
    else if (i == 7) ok = v[5] == '1' ? (c == '0' || c == '1') : is_digit(static_cast<unsigned char>(c));
    if (!ok) return false;
  }
  return true;
}

// What the framing-relevant headers said so far.
struct head_state {
  bool host_seen = false;
  bool cl_seen = false;
  bool te_seen = false;
  bool chunked = false;
  bool conn_close = false;
  bool conn_keep_alive = false;
  bool expect_continue = false;
  bool expect_seen = false;
};

parse_error on_content_length(std::string_view value, head_state& st, request_head& out) noexcept {
  // Identical repeated values (RFC 9110 section 8.6) are one value; they are compared as numbers.
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
    if (st.cl_seen && n != out.content_length) return parse_error::bad_content_length;
    st.cl_seen = true;
    out.content_length = n;
    return parse_error::none;
  });
  if (e != parse_error::none) return e;
  // Both framings at once is the classic smuggling vector; RFC 9112 section 6.1 lets a server
  // reject it instead of letting Transfer-Encoding win, and we do.
  return st.te_seen ? parse_error::conflicting_framing : parse_error::none;
}

parse_error on_transfer_encoding(std::string_view value, head_state& st, int version_minor) noexcept {
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
    // application a body it cannot read, so it is answered 501 (RFC 9112 section 6.1). This also
    // covers "chunked is not the final coding", since nothing may follow chunked.
    return parse_error::unsupported_transfer_encoding;
  });
  if (e != parse_error::none) return e;
  st.te_seen = true;
  return st.cl_seen ? parse_error::conflicting_framing : parse_error::none;
}

parse_error on_header(std::string_view name, std::string_view value, head_state& st, request_head& out) noexcept {
  switch (name.size()) {
    case 4:
      if (iequals_lower(name, "host")) {
        if (st.host_seen) return parse_error::duplicate_host;
        st.host_seen = true;
        // An empty Host is what RFC 9112 section 3.2 tells clients to send when there is no authority.
        if (!value.empty() && !valid_authority(value, false)) return parse_error::bad_host;
        out.host = value;
      }
      break;
    case 6:
      if (iequals_lower(name, "expect")) {
        st.expect_seen = true;
        for_each_element(value, [&](std::string_view elem) noexcept {
          if (iequals_lower(elem, "100-continue")) st.expect_continue = true;
          return parse_error::none;
        });
      }
      break;
    case 10:
      if (iequals_lower(name, "connection")) {
        // Unknown connection options (Upgrade, TE, ...) are the application's business.
        for_each_element(value, [&](std::string_view elem) noexcept {
          if (iequals_lower(elem, "close")) st.conn_close = true;
          else if (iequals_lower(elem, "keep-alive")) st.conn_keep_alive = true;
          return parse_error::none;
        });
      }
      break;
    case 14:
      if (iequals_lower(name, "content-length")) return on_content_length(value, st, out);
      break;
    case 17:
      if (iequals_lower(name, "transfer-encoding")) return on_transfer_encoding(value, st, out.version_minor);
      break;
    default:
      break;
  }
  return parse_error::none;
}

}  // namespace

std::string_view to_string(parse_error e) noexcept {
  switch (e) {
    case parse_error::none: return "no error";
    case parse_error::bad_method: return "bad request line";
    case parse_error::bad_target: return "bad request target";
    case parse_error::bad_version: return "bad HTTP version";
    case parse_error::version_not_supported: return "HTTP version not supported";
    case parse_error::bad_header_name: return "bad header name";
    case parse_error::bad_header_value: return "bad header value";
    case parse_error::obs_fold: return "obsolete line folding";
    case parse_error::missing_host: return "missing Host header";
    case parse_error::duplicate_host: return "duplicate Host header";
    case parse_error::bad_host: return "bad Host header";
    case parse_error::header_too_large: return "request header too large";
    case parse_error::too_many_headers: return "too many headers";
    case parse_error::target_too_long: return "request target too long";
    case parse_error::bad_content_length: return "bad Content-Length";
    case parse_error::conflicting_framing: return "both Transfer-Encoding and Content-Length";
    case parse_error::bad_transfer_encoding: return "bad Transfer-Encoding";
    case parse_error::unsupported_transfer_encoding: return "unsupported transfer coding";
    case parse_error::bad_chunk: return "bad chunked encoding";
    case parse_error::body_too_large: return "request body too large";
  }
  return "unknown error";
}

int status_for(parse_error e) noexcept {
  switch (e) {
    case parse_error::version_not_supported: return 505;
    case parse_error::header_too_large:
    case parse_error::too_many_headers: return 431;
    case parse_error::target_too_long: return 414;
    case parse_error::unsupported_transfer_encoding: return 501;
    case parse_error::body_too_large: return 413;
    default: return 400;
  }
}

std::optional<std::string_view> request_head::header(std::string_view name) const noexcept {
  for (const header_field& h : headers)
    if (iequals(h.name, name)) return h.value;
  return std::nullopt;
}

parse_result parse_request_head(std::string_view full, request_head& out, const parse_limits& limits) {
  out.method = {};
  out.target = {};
  out.version_minor = 1;
  out.headers.clear();
  out.framing = body_framing::none;
  out.content_length = 0;
  out.keep_alive = true;
  out.expect_continue = false;
  out.expectation_unmet = false;
  out.host = {};

  // Parsing only the first max_head_bytes makes the limit exact and bounds the work per call;
  // running out of that window means the head is too large rather than incomplete.
  const bool truncated = full.size() > limits.max_head_bytes;
  const std::string_view in = truncated ? full.substr(0, limits.max_head_bytes) : full;
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  std::size_t i = 0;

  const auto fail = [](parse_error e) { return parse_result{parse_status::error, 0, e}; };
  const auto need_more = [&] {
    return truncated ? fail(parse_error::header_too_large) : parse_result{parse_status::incomplete, 0, parse_error::none};
  };

  // RFC 9112 section 2.2: ignore empty lines before the request line.
  for (;;) {
    if (i == n) return need_more();
    if (s[i] == '\n') {
      ++i;
    } else if (s[i] == '\r') {
      if (i + 1 == n) return need_more();
      if (s[i + 1] != '\n') return fail(parse_error::bad_method);
      i += 2;
    } else {
      break;
    }
  }

  // method SP
  const std::size_t method_begin = i;
  while (i < n && is(s[i], k_tchar)) ++i;
  if (i == n) return need_more();
  if (s[i] != ' ' || i == method_begin) return fail(parse_error::bad_method);
  out.method = in.substr(method_begin, i - method_begin);
  ++i;

  // request-target SP
  const std::size_t target_begin = i;
  // Scanning one byte past the limit is enough to refuse an overlong target; no need to find its end.
  const std::size_t target_room = n - target_begin;
  const std::size_t target_scan_end =
      limits.max_target_bytes < target_room ? target_begin + limits.max_target_bytes + 1 : n;
  i = skip_target_words(s, i, target_scan_end);
  while (i < target_scan_end && is(s[i], k_target)) ++i;
  if (i - target_begin > limits.max_target_bytes) return fail(parse_error::target_too_long);
  if (i == n) return need_more();
  if (s[i] != ' ') {
    // A CR or LF after a target means the version is missing ("GET /\r\n" is HTTP/0.9), whatever
    // follows it; deciding without looking further keeps the error independent of how the bytes
    // were split across reads.
    const bool line_end = s[i] == '\r' || s[i] == '\n';
    return fail(line_end && i != target_begin ? parse_error::bad_version : parse_error::bad_target);
  }
  if (i == target_begin) return fail(parse_error::bad_target);  // two spaces
  out.target = in.substr(target_begin, i - target_begin);
  std::string_view target_authority;
  if (const parse_error e = check_target(out.method, out.target, target_authority); e != parse_error::none)
    return fail(e);
  ++i;

  // HTTP-version CRLF; a valid version is 8 bytes, so looking at 9 suffices to refuse longer ones.
  const std::size_t version_begin = i;
  const std::size_t version_scan_end = std::min(n, version_begin + 9);
  while (i < version_scan_end && s[i] != '\r' && s[i] != '\n') ++i;
  const std::string_view version = in.substr(version_begin, i - version_begin);
  if (i == n) {
    if (!version_prefix_ok(version)) return fail(parse_error::bad_version);
    // Even a whole "HTTP/2.0" waits for the next byte: "HTTP/2.0x" is a malformed version
    // (400), not an unsupported one (505), and the answer must not depend on how reads split.
    return need_more();
  }
  if (const parse_error e = classify_version(version, out.version_minor); e != parse_error::none) return fail(e);
  if (s[i] == '\r') {
    if (i + 1 == n) return need_more();
    if (s[i + 1] != '\n') return fail(parse_error::bad_version);
    ++i;
  }
  ++i;

  // header fields, up to the empty line
  head_state st;
  for (;;) {
    if (i == n) return need_more();
    const unsigned char c = s[i];
    if (c == '\r') {
      if (i + 1 == n) return need_more();
      if (s[i + 1] != '\n') return fail(parse_error::bad_header_name);
      i += 2;
      break;
    }
    if (c == '\n') {
      ++i;
      break;
    }
    // Whitespace before the first field could be read as part of the request line by another
    // parser (RFC 9112 section 2.2), so it is a malformed field rather than a fold.
    if (is_ows(c)) return fail(out.headers.empty() ? parse_error::bad_header_name : parse_error::obs_fold);
    if (out.headers.size() == limits.max_headers) return fail(parse_error::too_many_headers);

    const std::size_t name_begin = i;
    while (i < n && is(s[i], k_tchar)) ++i;
    if (i == n) return need_more();
    // Covers whitespace before the colon (RFC 9112 section 5.1), which must be refused.
    if (s[i] != ':' || i == name_begin) return fail(parse_error::bad_header_name);
    const std::string_view name = in.substr(name_begin, i - name_begin);
    ++i;

    while (i < n && is_ows(s[i])) ++i;
    const std::size_t value_begin = i;
    i = skip_field_words(s, i, n);
    while (i < n && is(s[i], k_field)) ++i;
    if (i == n) return need_more();
    std::size_t value_end = i;
    if (s[i] == '\r') {
      if (i + 1 == n) return need_more();
      if (s[i + 1] != '\n') return fail(parse_error::bad_header_value);
      i += 2;
    } else if (s[i] == '\n') {
      ++i;
    } else {
      return fail(parse_error::bad_header_value);
    }
    while (value_end > value_begin && is_ows(s[value_end - 1])) --value_end;
    const std::string_view value = in.substr(value_begin, value_end - value_begin);

    out.headers.push_back(header_field{name, value});
    if (const parse_error e = on_header(name, value, st, out); e != parse_error::none) return fail(e);
  }

  if (out.version_minor == 1 && !st.host_seen) return fail(parse_error::missing_host);
  if (!target_authority.empty()) out.host = target_authority;
  if (st.chunked) out.framing = body_framing::chunked;
  else if (st.cl_seen) out.framing = body_framing::content_length;
  out.keep_alive = !st.conn_close && (out.version_minor == 1 || st.conn_keep_alive);
  // RFC 9110 section 10.1.1: a 100-continue expectation in an HTTP/1.0 request must be ignored.
  out.expect_continue = st.expect_continue && out.version_minor == 1;
  out.expectation_unmet = st.expect_seen && !st.expect_continue && out.version_minor == 1;
  return {parse_status::done, i, parse_error::none};
}

void chunked_decoder::reset() noexcept {
  state_ = state::size_first;
  error_ = parse_error::none;
  remaining_ = 0;
  total_ = 0;
  count_ = 0;
}

parse_result chunked_decoder::decode(std::string_view in, std::string& out, std::uint64_t max_body) {
  if (state_ == state::done) return {parse_status::done, 0, parse_error::none};
  if (state_ == state::failed) return {parse_status::error, 0, error_};

  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  std::size_t i = 0;
  const auto fail = [&](parse_error e) {
    state_ = state::failed;
    error_ = e;
    return parse_result{parse_status::error, i, e};
  };
  const auto hex_value = [](unsigned char c) -> unsigned {
    return is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10;
  };

  // Chunk framing lines must end in CRLF exactly: tolerating a bare LF here, where peers are known
  // to disagree, is what request smuggling feeds on. Trailer lines are held to the same rule.
  while (i < n) {
    if (state_ == state::data) {
      const std::size_t take = static_cast<std::size_t>(std::min<std::uint64_t>(remaining_, n - i));
      out.append(in.data() + i, take);
      i += take;
      remaining_ -= take;
      if (remaining_ == 0) state_ = state::data_cr;
      continue;
    }
    const unsigned char c = s[i];
    switch (state_) {
      case state::size_first:
        if (!is(c, k_hex)) return fail(parse_error::bad_chunk);
        remaining_ = hex_value(c);
        count_ = 1;
        state_ = state::size;
        break;
      case state::size:
        if (is(c, k_hex)) {
          // 16 digits cannot overflow 64 bits; leading zeros beyond that are refused too.
          if (++count_ > 16) return fail(parse_error::bad_chunk);
          remaining_ = remaining_ * 16 + hex_value(c);
        } else if (c == ';') {
          count_ = 1;
          state_ = state::ext;
        } else if (is_ows(c)) {
          count_ = 1;
          state_ = state::ext_ws;
        } else if (c == '\r') {
          state_ = state::size_lf;
        } else {
          return fail(parse_error::bad_chunk);
        }
        break;
      case state::ext_ws:
        if (++count_ > max_chunk_ext_bytes) return fail(parse_error::bad_chunk);
        if (c == ';') state_ = state::ext;
        else if (!is_ows(c)) return fail(parse_error::bad_chunk);
        break;
      case state::ext:
        if (c == '\r') state_ = state::size_lf;
        else if (++count_ > max_chunk_ext_bytes || !is(c, k_field)) return fail(parse_error::bad_chunk);
        break;
      case state::size_lf:
        if (c != '\n') return fail(parse_error::bad_chunk);
        if (remaining_ == 0) {
          count_ = 0;
          state_ = state::trailer_start;
        } else {
          total_ += remaining_;
          state_ = state::data;
        }
        break;
      case state::data_cr:
        if (c != '\r') return fail(parse_error::bad_chunk);
        state_ = state::data_lf;
        break;
      case state::data_lf:
        if (c != '\n') return fail(parse_error::bad_chunk);
        state_ = state::size_first;
        break;
      case state::trailer_start:
      case state::trailer_name:
      case state::trailer_value:
      case state::trailer_lf:
      case state::final_lf:
        if (++count_ > max_trailer_bytes) return fail(parse_error::bad_chunk);
        switch (state_) {
          case state::trailer_start:
            // SP/HTAB here would be obs-fold, ':' an empty name, LF a bare line end.
            if (c == '\r') state_ = state::final_lf;
            else if (is(c, k_tchar)) state_ = state::trailer_name;
            else return fail(parse_error::bad_chunk);
            break;
          case state::trailer_name:
            if (c == ':') state_ = state::trailer_value;
            else if (!is(c, k_tchar)) return fail(parse_error::bad_chunk);
            break;
          case state::trailer_value:
            if (c == '\r') state_ = state::trailer_lf;
            else if (!is(c, k_field)) return fail(parse_error::bad_chunk);
            break;
          case state::trailer_lf:
            if (c != '\n') return fail(parse_error::bad_chunk);
            state_ = state::trailer_start;
            break;
          default:  // final_lf
            if (c != '\n') return fail(parse_error::bad_chunk);
            state_ = state::done;
            return {parse_status::done, i + 1, parse_error::none};
        }
        break;
      case state::data:
      case state::done:
      case state::failed:
        break;  // handled above
    }
    // Checked per digit so an oversized chunk is refused before any of its data arrives.
    if (state_ == state::size &&
        (total_ > max_body || remaining_ > max_body - total_))
      return fail(parse_error::body_too_large);
    ++i;
  }
  return {parse_status::incomplete, n, parse_error::none};
}

}  // namespace c10k::http
