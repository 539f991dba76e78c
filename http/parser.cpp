#include "c10k/http/parser.hpp"

#include "header_rules.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

namespace c10k::http {
using namespace rules;

namespace {

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
    // One pass: reg-name bytes up to the first ':' (the port's), which no reg-name byte is.
    std::size_t i = 0;
    while (i < a.size() && is(static_cast<unsigned char>(a[i]), k_reg_name)) ++i;
    if (i == 0 || (i < a.size() && a[i] != ':')) return false;
    if (i < a.size()) {
      has_port = true;
      port = a.substr(i + 1);
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

// Parses HTTP-version and its line end from in[i], i past them when done; incomplete or the
// error otherwise. A valid version is 8 bytes, so looking at 9 suffices to refuse longer ones.
parse_result parse_version(std::string_view in, std::size_t& i, int& minor) noexcept {
  const auto* s = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  const auto fail = [](parse_error e) { return parse_result{parse_status::error, 0, e}; };
  const parse_result more{parse_status::incomplete, 0, parse_error::none};
  const std::size_t version_begin = i;
  const std::size_t version_scan_end = std::min(n, version_begin + 9);
  while (i < version_scan_end && s[i] != '\r' && s[i] != '\n') ++i;
  const std::string_view version = in.substr(version_begin, i - version_begin);
  if (i == n) {
    if (!version_prefix_ok(version)) return fail(parse_error::bad_version);
    // Even a whole "HTTP/2.0" waits for the next byte: "HTTP/2.0x" is a malformed version
    // (400), not an unsupported one (505), and the answer must not depend on how reads split.
    return more;
  }
  if (const parse_error e = classify_version(version, minor); e != parse_error::none) return fail(e);
  if (s[i] == '\r') {
    if (i + 1 == n) return more;
    if (s[i + 1] != '\n') return fail(parse_error::bad_version);
    ++i;
  }
  ++i;
  return {parse_status::done, i, parse_error::none};
}

// "HTTP/1.1" as the word load_word reads from a buffer holding it (a constant: no static
// initialisation for a parse made before main to depend on).
constexpr std::uint64_t http11_word = [] {
  constexpr std::string_view text = "HTTP/1.1";
  std::uint64_t w = 0;
  for (std::size_t i = 0; i < 8; ++i) {
    const auto byte = static_cast<std::uint64_t>(static_cast<unsigned char>(text[i]));
    if constexpr (std::endian::native == std::endian::little) w |= byte << (8 * i);
    else w = (w << 8) | byte;
  }
  return w;
}();

// What the headers of a request said so far: the framing ones (shared with responses) and Host
// and Expect.
struct head_state : framing_headers {
  bool host_seen = false;
  bool expect_continue = false;
  bool expect_seen = false;
};

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
    default:
      return on_framing_field(name, value, st, out.version_minor);
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
    case parse_error::bad_status: return "bad status line";
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

bool header_name_is(std::string_view name, std::string_view lower) noexcept { return iequals_lower(name, lower); }

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

  // HTTP-version CRLF. Nearly every request says "HTTP/1.1" and CRLF: one word compared, where
  // the general path looks at each byte.
  if (n - i >= 10 && load_word(s + i) == http11_word && s[i + 8] == '\r' && s[i + 9] == '\n') {
    out.version_minor = 1;
    i += 10;
  } else if (const parse_result r = parse_version(in, i, out.version_minor); r.status != parse_status::done) {
    return r.status == parse_status::error ? r : need_more();
  }

  // header fields, up to the empty line
  head_state st;
  const parse_result fields = parse_fields(in, i, limits.max_headers, out.headers, [&](std::string_view name, std::string_view value) {
    return on_header(name, value, st, out);
  });
  if (fields.status == parse_status::incomplete) return need_more();
  if (fields.status == parse_status::error) return fields;

  if (out.version_minor == 1 && !st.host_seen) return fail(parse_error::missing_host);
  if (!target_authority.empty()) out.host = target_authority;
  if (st.chunked) out.framing = body_framing::chunked;
  else if (st.cl_seen) out.framing = body_framing::content_length;
  out.content_length = st.content_length;
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
