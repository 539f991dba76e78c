#include "c10k/http/response_parser.hpp"

#include "header_rules.hpp"

namespace c10k::http {
using namespace rules;

std::optional<std::string_view> response_head::header(std::string_view name) const noexcept {
  for (const header_field& h : headers)
    if (iequals(h.name, name)) return h.value;
  return std::nullopt;
}

namespace {

// Checks as much of "HTTP/1.x SP" as `v` holds; sets minor once the digit is there.
parse_error check_version_prefix(std::string_view v, int& minor) noexcept {
  constexpr std::string_view proto = "HTTP/1.";
  for (std::size_t i = 0; i < v.size() && i < 9; ++i) {
    const char c = v[i];
    if (i < proto.size()) {
      if (c != proto[i]) return parse_error::bad_version;
    } else if (i == 7) {
      if (c != '0' && c != '1') return parse_error::bad_version;
      minor = c - '0';
    } else if (c != ' ') {
      return parse_error::bad_version;
    }
  }
  return parse_error::none;
}

}  // namespace

parse_result parse_response_head(std::string_view full, response_head& out, bool head_request, const parse_limits& limits) {
  out.version_minor = 1;
  out.status = 0;
  out.reason = {};
  out.headers.clear();  // keeps its capacity
  out.framing = response_framing::none;
  out.content_length = 0;
  out.keep_alive = true;
  const bool truncated = full.size() > limits.max_head_bytes;
  const std::string_view in = truncated ? full.substr(0, limits.max_head_bytes) : full;
  const auto fail = [](parse_error e) { return parse_result{parse_status::error, 0, e}; };
  const auto need_more = [&] {
    return truncated ? fail(parse_error::header_too_large) : parse_result{parse_status::incomplete, 0, parse_error::none};
  };

  // status-line = HTTP-version SP status-code SP [ reason-phrase ] CRLF. No leading empty
  // lines: unlike a request's, nothing allows them before a response, and garbage there is
  // what a desynchronised connection looks like.
  if (const parse_error e = check_version_prefix(in.substr(0, 9), out.version_minor); e != parse_error::none) return fail(e);
  if (in.size() < 12) {
    for (std::size_t i = 9; i < in.size(); ++i)
      if (!is_digit(static_cast<unsigned char>(in[i]))) return fail(parse_error::bad_status);
    return need_more();
  }
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    const auto c = static_cast<unsigned char>(in[i]);
    if (!is_digit(c)) return fail(parse_error::bad_status);
    status = status * 10 + (c - '0');
  }
  if (status < 100 || status > 599) return fail(parse_error::bad_status);
  out.status = status;
  std::size_t i = 12;
  if (i == in.size()) return need_more();
  // The SP before an empty reason is required by the grammar but commonly left out; either way
  // the line cannot be read two ways, so both are taken.
  if (in[i] == ' ') {
    ++i;
    const std::size_t reason_begin = i;
    while (i < in.size() && is(static_cast<unsigned char>(in[i]), k_field)) ++i;
    if (i == in.size()) return need_more();
    out.reason = in.substr(reason_begin, i - reason_begin);
  }
  if (in[i] == '\r') {
    if (i + 1 == in.size()) return need_more();
    if (in[i + 1] != '\n') return fail(parse_error::bad_status);
    i += 2;
  } else if (in[i] == '\n') {
    ++i;
  } else {
    return fail(parse_error::bad_status);
  }

  framing_headers st;
  const parse_result fields = parse_fields(in, i, limits.max_headers, out.headers, [&](std::string_view name, std::string_view value) {
    return on_framing_field(name, value, st, out.version_minor);
  });
  if (fields.status == parse_status::incomplete) return need_more();
  if (fields.status == parse_status::error) return fields;

  out.keep_alive = !st.conn_close && (out.version_minor == 1 || st.conn_keep_alive);
  // RFC 9112 section 6.3: these never have a body, whatever their framing headers say.
  const bool no_body = head_request || status < 200 || status == 204 || status == 304;
  if (no_body) {
    out.framing = response_framing::none;
  } else if (st.chunked) {
    out.framing = response_framing::chunked;
  } else if (st.cl_seen) {
    out.content_length = st.content_length;
    out.framing = st.content_length == 0 ? response_framing::none : response_framing::content_length;
  } else {
    out.framing = response_framing::until_close;
    out.keep_alive = false;
  }
  return {parse_status::done, i, parse_error::none};
}

}  // namespace c10k::http
